"""Code comparison with the committed artifacts, immutables aside (pure: artifacts only, no chain)."""

from __future__ import annotations

import pytest

from flows.execution.abi import load_artifact
from ops.validation.bytecode import compare_code, immutable_slots, word

FACTORY = "0x" + "11" * 20
TOKEN0, TOKEN1 = "0x" + "22" * 20, "0x" + "33" * 20


def runtime(name: str) -> bytes:
    return bytes.fromhex(load_artifact(name).deployed_bytecode[2:])


def filled(code: bytes, values: list[bytes]) -> bytes:
    """The artifact with its immutable slots filled in turn from ``values`` (cycled), as a constructor would."""
    out = bytearray(code)
    for i, (start, end) in enumerate(immutable_slots(code)):
        out[start:end] = values[i % len(values)]
    return bytes(out)


def test_contracts_without_immutables_must_match_exactly() -> None:
    for name in ("ArbExecutor", "PulseFactory"):
        code = runtime(name)
        assert compare_code(code, code).ok
        tampered = bytearray(code)
        tampered[100] ^= 1
        check = compare_code(bytes(tampered), code)
        assert not check.ok and check.reason == "code differs from the artifact at byte 100 (outside the immutables)"
    # PulseFactory embeds the pair's creation code, whose zeroed PUSH32 words look like slots: with no immutables
    # expected they must stay zero, so the comparison is still exact
    code = runtime("PulseFactory")
    start, end = immutable_slots(code)[0]
    tampered = bytearray(code)
    tampered[start:end] = word(1)
    assert not compare_code(bytes(tampered), code).ok


def test_pair_immutables_are_masked_and_checked() -> None:
    code = runtime("PulsePair")
    slots = immutable_slots(code)
    assert slots and all(end - start == 32 for start, end in slots)
    values = [word(FACTORY), word(TOKEN0), word(TOKEN1), word(30)]
    deployed = filled(code, values)
    check = compare_code(deployed, code, (FACTORY, TOKEN0, TOKEN1, 30))
    assert check.ok and check.immutables == len(slots)
    # a slot holding a value the deployment does not name: a pair of other tokens
    wrong = compare_code(deployed, code, (FACTORY, TOKEN0, "0x" + "44" * 20, 30))
    assert not wrong.ok and "not one of the expected values" in wrong.reason
    # an expected value no slot holds: the file says fee 25, the pair charges 30
    assert not compare_code(filled(code, values[:3]), code, (FACTORY, TOKEN0, TOKEN1, 25)).ok


def test_bytes_outside_slots_and_lengths() -> None:
    code = runtime("FlashLender")
    deployed = filled(code, [word(9)])
    assert compare_code(deployed, code, (9,)).ok
    start = immutable_slots(code)[0][0]
    tampered = bytearray(deployed)
    tampered[start - 1] ^= 0xFF  # the PUSH32 opcode itself is code, not an immutable
    assert not compare_code(bytes(tampered), code, (9,)).ok
    assert compare_code(deployed + b"\x00", code, (9,)).reason.startswith("code is ")
    assert compare_code(b"", code).reason == "no code at this address"


@pytest.mark.parametrize(("code", "slots"), [(b"\x7f" + bytes(32), [(1, 33)]), (b"\x7e" + b"\x7f" + bytes(30), [])])
def test_push_data_is_skipped(code: bytes, slots: list[tuple[int, int]]) -> None:
    # a 0x7f byte inside PUSH31's data is not an instruction
    assert immutable_slots(code) == slots
