"""The signer: key from env or keystore, never shown; unsafe keystores refused."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from eth_account import Account

from flows.execution.errors import SignerError
from flows.execution.signer import KEY_ENV, KEYSTORE_ENV, PASSWORD_ENV, Signer, encrypt_keystore

KEY = "0x" + "4c" * 32  # a test-only key


def _forms(key: str) -> list[str]:
    bare = key.removeprefix("0x")
    return [bare.lower(), bare.upper(), bare[:16].lower()]


def test_from_env_repr_and_scrub() -> None:
    env = {KEY_ENV: KEY}
    signer = Signer.from_env(env, scrub=True)
    assert signer.address == Account.from_key(KEY).address
    assert repr(signer) == f"Signer({signer.address})" == str(signer)
    assert KEY_ENV not in env
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(signer)


@pytest.mark.parametrize("bad", ["0x1234", "zz" * 32, "0x" + "00" * 32])
def test_bad_keys_are_named_never_shown(bad: str) -> None:
    with pytest.raises(SignerError) as err:
        Signer.from_env({KEY_ENV: bad})
    text = str(err.value)
    assert KEY_ENV in text and bad.removeprefix("0x") not in text
    assert err.value.__cause__ is None and err.value.__context__ is None


def test_missing_key() -> None:
    with pytest.raises(SignerError, match=f"set {KEY_ENV}"):
        Signer.from_env({})
    with pytest.raises(SignerError, match=PASSWORD_ENV):
        Signer.from_env({KEYSTORE_ENV: "/nonexistent"})


def test_keystore_ok_wrong_password_and_unsafe_mode(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    address = encrypt_keystore(KEY, "pw", path, kdf="pbkdf2", iterations=1_000)  # fast KDF for the test
    assert (path.stat().st_mode & 0o777) == 0o600
    assert Signer.from_env({KEYSTORE_ENV: str(path), PASSWORD_ENV: "pw"}).address == address
    with pytest.raises(SignerError, match="wrong PULSEARB_KEYSTORE_PASSWORD"):
        Signer.from_env({KEYSTORE_ENV: str(path), PASSWORD_ENV: "nope"})
    os.chmod(path, 0o644)
    with pytest.raises(SignerError, match=r"accessible to other users \(mode 0644\).*chmod 600"):
        Signer.from_env({KEYSTORE_ENV: str(path), PASSWORD_ENV: "pw"})


def test_signing_errors_do_not_carry_the_key() -> None:
    signer = Signer.from_key(KEY)
    with pytest.raises(SignerError) as err:
        signer.sign({"type": 2, "nonce": "x"})
    assert not any(f in str(err.value).lower() for f in _forms(KEY))
    assert err.value.__context__ is None
