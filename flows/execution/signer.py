"""The transaction signer: holds the private key in memory and never shows it.

The key comes from one of two places, checked in this order:

- ``PULSEARB_PRIVATE_KEY``: 64 hex digits (``0x`` optional);
- ``PULSEARB_KEYSTORE``: an encrypted JSON keystore (Web3 Secret Storage), with its password in
  ``PULSEARB_KEYSTORE_PASSWORD``. A keystore file that others can read or write (any ``o`` permission bit) is
  refused: ``chmod 600`` it.

The key is never logged, put in a record, an error message or an exception chain (``raise ... from None``), and a
:class:`Signer` refuses to be pickled; its ``repr`` shows the address only. After reading, the builder removes
the variable from the process environment, so child processes do not inherit it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from flows.execution.errors import SignerError

KEY_ENV = "PULSEARB_PRIVATE_KEY"
KEYSTORE_ENV = "PULSEARB_KEYSTORE"
PASSWORD_ENV = "PULSEARB_KEYSTORE_PASSWORD"

_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction, ready for ``eth_sendRawTransaction`` (public data: no key material).

    Attributes:
        raw: the RLP-encoded signed transaction.
        tx_hash: its hash, 0x hex.
    """

    raw: bytes
    tx_hash: str


class Signer:
    """Signs transactions for one account.

    Build it with :meth:`from_env`, :meth:`from_key` or :meth:`from_keystore`.
    """

    __slots__ = ("__account", "address")

    def __init__(self, account: Any) -> None:
        self.__account = account
        self.address: str = account.address

    @classmethod
    def from_key(cls, key: str, source: str = "the private key") -> Signer:
        """Use a hex private key.

        Args:
            key: 64 hex digits, ``0x`` optional.
            source: how to name where it came from in errors (an env var name, never the value).

        Raises:
            SignerError: the key is not 32 bytes of hex, or not a valid secp256k1 key.
        """
        key = key.strip()
        if not _HEX_KEY.match(key):
            msg = f"{source} is not a private key: expected 64 hex digits (0x optional); the value is not shown"
            raise SignerError(msg)
        account = None
        with contextlib.suppress(Exception):  # its message could echo the key: we raise our own below
            account = Account.from_key(key)
        if account is None:  # raised here so that no exception context (holding the key) is attached
            msg = f"{source} is not a valid secp256k1 private key; the value is not shown"
            raise SignerError(msg)
        return cls(account)

    @classmethod
    def from_keystore(cls, path: Path, password: str) -> Signer:
        """Decrypt a JSON keystore file.

        Raises:
            SignerError: the file is missing, readable or writable by others, malformed, or the password is wrong.
        """
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            msg = f"keystore {path}: cannot read it ({exc.strerror}); set {KEYSTORE_ENV} to the keystore file"
            raise SignerError(msg) from None
        if mode & stat.S_IRWXO:
            msg = (
                f"keystore {path} is accessible to other users (mode {stat.S_IMODE(mode):04o}); "
                f"refusing to use it: run `chmod 600 {path}`"
            )
            raise SignerError(msg)
        key = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            key = Account.decrypt(json.loads(path.read_text()), password)
        if key is None:
            msg = f"keystore {path}: cannot decrypt it (malformed file or wrong {PASSWORD_ENV})"
            raise SignerError(msg)
        return cls(Account.from_key(key))

    @classmethod
    def from_env(cls, env: MutableMapping[str, str] | None = None, scrub: bool = False) -> Signer:
        """Read the key from ``PULSEARB_PRIVATE_KEY``, else from ``PULSEARB_KEYSTORE`` + its password.

        Args:
            env: the environment (default ``os.environ``).
            scrub: remove the key and password variables from ``env`` once read.

        Raises:
            SignerError: neither is set, or the one set is invalid (the message names the variable only).
        """
        env = os.environ if env is None else env
        try:
            if env.get(KEY_ENV):
                return cls.from_key(env[KEY_ENV], source=KEY_ENV)
            if env.get(KEYSTORE_ENV):
                if PASSWORD_ENV not in env:
                    msg = f"{KEYSTORE_ENV} is set but {PASSWORD_ENV} is not: set the keystore password"
                    raise SignerError(msg)
                return cls.from_keystore(Path(env[KEYSTORE_ENV]), env[PASSWORD_ENV])
        finally:
            if scrub:
                for name in (KEY_ENV, PASSWORD_ENV):
                    env.pop(name, None)
        msg = f"no signing key: set {KEY_ENV} (hex key) or {KEYSTORE_ENV} and {PASSWORD_ENV} (keystore file)"
        raise SignerError(msg)

    def sign(self, tx: Mapping[str, Any]) -> SignedTx:
        """Sign a transaction dict (``type``, ``chainId``, ``nonce``, ``to``, ``value``, ``data``, ``gas``, fees).

        Raises:
            SignerError: the transaction is malformed (the message names the problem, not the key).
        """
        signed, problem = None, ""
        try:
            signed = self.__account.sign_transaction(dict(tx))
        except Exception as exc:  # name the problem only: raised below, with no exception context attached
            problem = type(exc).__name__
        if signed is None:
            msg = f"cannot sign the transaction ({problem}): check its fields (type, chainId, nonce, to, gas, fees)"
            raise SignerError(msg)
        return SignedTx(bytes(signed.raw_transaction), "0x" + bytes(signed.hash).hex())

    def __repr__(self) -> str:
        return f"Signer({self.address})"

    __str__ = __repr__

    def __reduce__(self):
        msg = "a Signer cannot be pickled or copied (it holds a private key)"
        raise TypeError(msg)


def encrypt_keystore(key: str, password: str, path: Path, kdf: str = "scrypt", iterations: int | None = None) -> str:
    """Write an encrypted keystore for ``key`` to ``path`` with mode 0600; return the address (for set-up and tests).

    Args:
        key: hex private key.
        password: the keystore password.
        path: the file to write.
        kdf: ``scrypt`` (default, as geth) or ``pbkdf2``.
        iterations: KDF work factor (None: eth-account's default, which takes about a second to decrypt).

    Raises:
        SignerError: the key is invalid.
    """
    signer_address = Signer.from_key(key).address
    keystore = Account.encrypt(key, password, kdf=kdf, iterations=iterations)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(keystore, f)
    return signer_address
