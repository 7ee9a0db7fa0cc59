"""Compare a contract's on-chain code with the committed artifact's ``deployedBytecode``, immutables aside (pure).

solc writes each read of an ``immutable`` as ``PUSH32 <32 zero bytes>`` in the runtime code it reports; the
constructor fills those words in before the code is stored. The artifacts (contracts/artifacts/*.json) keep the
zeroed form and do not record the offsets, so the slots are found by walking the artifact's instructions (push
data skipped, so a 0x7f byte inside other push data is not taken for an instruction). The on-chain code must then
have the artifact's length, equal it byte for byte outside those slots, and hold in every slot one of the values
the caller expects for that contract's immutables (token addresses, fee, decimals...), so a pair wired to the wrong
tokens fails as surely as foreign code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

PUSH1, PUSH32 = 0x60, 0x7F
WORD = 32


def immutable_slots(code: bytes) -> list[tuple[int, int]]:
    """Return ``(start, end)`` byte ranges of the zeroed ``PUSH32`` words in runtime code (immutables' slots).

    Args:
        code: runtime code as the artifact holds it (immutables zeroed).
    """
    slots: list[tuple[int, int]] = []
    pc = 0
    while pc < len(code):
        op = code[pc]
        if PUSH1 <= op <= PUSH32:
            size = op - PUSH1 + 1
            data = code[pc + 1 : pc + 1 + size]
            if op == PUSH32 and len(data) == WORD and not any(data):
                slots.append((pc + 1, pc + 1 + WORD))
            pc += 1 + size
        else:
            pc += 1
    return slots


def word(value: int | str) -> bytes:
    """An immutable's value as the 32-byte word stored in code (an int, or a 0x address, left-padded)."""
    number = int(value, 16) if isinstance(value, str) else int(value)
    return number.to_bytes(WORD, "big")


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The result of a comparison.

    Attributes:
        ok: the code is the artifact's (with acceptable immutables).
        reason: why not ("" when ok).
        immutables: how many immutable slots were filled in.
    """

    ok: bool
    reason: str = ""
    immutables: int = 0


def compare_code(on_chain: bytes, artifact: bytes, immutables: Iterable[int | str] = ()) -> CodeCheck:
    """Compare runtime code with an artifact's ``deployedBytecode``.

    Args:
        on_chain: what ``eth_getCode`` returned.
        artifact: the artifact's ``deployedBytecode`` (immutables zeroed).
        immutables: the values the contract's immutables must hold (each slot must hold one of them, or stay zero
            when the value is zero); empty for contracts without immutables.

    Returns:
        A :class:`CodeCheck` whose reason names the first offending byte offset.
    """
    if not on_chain:
        return CodeCheck(False, "no code at this address")
    if len(on_chain) != len(artifact):
        return CodeCheck(False, f"code is {len(on_chain)} bytes, the artifact's is {len(artifact)}")
    allowed = {word(v) for v in immutables} | {bytes(WORD)}
    slots = immutable_slots(artifact)
    filled = 0
    pos = 0
    for start, end in [*slots, (len(artifact), len(artifact))]:
        if on_chain[pos:start] != artifact[pos:start]:
            first = next(i for i in range(pos, start) if on_chain[i] != artifact[i])
            return CodeCheck(False, f"code differs from the artifact at byte {first} (outside the immutables)")
        if start < end:
            value = on_chain[start:end]
            if value not in allowed:
                return CodeCheck(
                    False, f"immutable at byte {start} holds 0x{value.hex()}, not one of the expected values"
                )
            filled += value != bytes(WORD)
        pos = end
    present = {on_chain[start:end] for start, end in slots}
    missing = sorted(w for w in allowed - present if any(w))
    if missing:
        return CodeCheck(False, f"no immutable holds the expected value 0x{missing[0].hex().lstrip('0') or '0'}")
    return CodeCheck(True, "", filled)
