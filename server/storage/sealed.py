"""Message bodies and attachments at rest: the one module that seals and opens them.

Each account has a random 256-bit data key (DEK). Bodies are sealed with AES-256-GCM under
it (12-byte random nonce || ciphertext+tag, additional data binds the account).
Attachment bytes and names are sealed the same way, their additional data binding the
account and a context the caller names (``attachments.py`` names the message and the
position), so a blob copied to another row does not open. The DEK is
stored only wrapped — AES-256-GCM under the server master key, bound to the account id —
so a copied database without the master key reveals no message. Destroying an account's
wrapped DEK makes its bodies unreadable for good (crypto-shredding).

The master key comes from ``FERRY_MASTER_KEY`` (base64 of 32 bytes) or the file
``master.key`` in the data directory, created 0600 on first start.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_FILE = "master.key"
_NONCE = 12


class SealError(Exception):
    """A sealed value could not be opened (wrong key, or tampered data)."""


class MasterKeyError(Exception):
    """The master key is missing, malformed or a placeholder."""


def load_master_key(data_dir: Path, env: Mapping[str, str] | None = None) -> bytes:
    """The server master key; created (0600) on first start when not given."""
    env = os.environ if env is None else env
    if "FERRY_MASTER_KEY" in env:
        return _check(_b64(env["FERRY_MASTER_KEY"]))
    path = data_dir / KEY_FILE
    if path.exists():
        return _check(path.read_bytes())
    key = secrets.token_bytes(32)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
        f.flush()
        os.fsync(f.fileno())
    return key


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise MasterKeyError("FERRY_MASTER_KEY is not base64") from None


def _check(key: bytes) -> bytes:
    if len(key) != 32:
        raise MasterKeyError("the master key must be exactly 32 bytes")
    if len(set(key)) < 8:
        raise MasterKeyError("the master key looks like a placeholder; use random bytes")
    return key


class _Nonces:
    """Random 96-bit nonces from the OS, drawn 4 KiB at a time.

    One ``os.urandom`` call per message was a measurable share of a batch ingest; the
    nonces are just as random drawn in bulk. A forked child starts with an empty pool, so
    it can never reuse its parent's nonces.
    """

    _BULK = _NONCE * 341

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._at = 0
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool, self._at = b"", 0

    def take(self) -> bytes:
        with self._lock:
            if self._at + _NONCE > len(self._pool):
                self._pool, self._at = os.urandom(self._BULK), 0
            start = self._at
            self._at += _NONCE
            return self._pool[start : start + _NONCE]


_nonces = _Nonces()


def _seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = _nonces.take()
    return nonce + aead.encrypt(nonce, plaintext, aad)


def _open(key: bytes | AESGCM, blob: bytes, aad: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    try:
        return aead.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
    except (InvalidTag, ValueError):
        raise SealError("sealed value cannot be opened") from None


def new_wrapped_key(master: bytes, account_id: int) -> bytes:
    """A fresh account data key, wrapped for storage."""
    return _seal(master, secrets.token_bytes(32), _dek_aad(account_id))


def _dek_aad(account_id: int) -> bytes:
    return b"ferry-dek:" + str(account_id).encode()


class BodyCipher:
    """Seals and opens the message bodies of one account."""

    def __init__(self, master: bytes, account_id: int, wrapped: bytes) -> None:
        self._key = _open(master, wrapped, _dek_aad(account_id))
        self._aead = AESGCM(self._key)
        self._account = str(account_id).encode()
        self._aad = b"ferry-body:" + self._account
        self._mac_key = hmac.new(self._key, b"ferry-mac:" + self._account, hashlib.sha256).digest()

    def seal(self, text: str) -> bytes:
        return _seal(self._aead, text.encode(), self._aad)

    def seal_many(self, texts: Sequence[str]) -> list[bytes]:
        """:meth:`seal` for a batch, with its nonces drawn from the OS in one call."""
        nonces = os.urandom(_NONCE * len(texts))
        encrypt, aad = self._aead.encrypt, self._aad
        sealed = []
        for k, text in enumerate(texts):
            nonce = nonces[k * _NONCE : (k + 1) * _NONCE]
            sealed.append(nonce + encrypt(nonce, text.encode(), aad))
        return sealed

    def open(self, blob: bytes | None) -> str:
        if blob is None:
            return ""
        return _open(self._aead, blob, self._aad).decode()

    def seal_bytes(self, data: bytes, context: bytes) -> bytes:
        """Seal raw bytes bound to the account and ``context`` (e.g. a row's identity)."""
        return _seal(self._aead, data, self._blob_aad(context))

    def open_bytes(self, blob: bytes, context: bytes) -> bytes:
        """Open what :meth:`seal_bytes` sealed with the same ``context``.

        Raises:
            SealError: another context, another account's key, or tampered bytes.
        """
        return _open(self._aead, blob, self._blob_aad(context))

    def mac(self, data: bytes) -> bytes:
        """A keyed digest (HMAC-SHA256 under a key derived from the data key): compares
        content without storing a plain hash that would confirm a guessed file."""
        return hmac.new(self._mac_key, data, hashlib.sha256).digest()

    def _blob_aad(self, context: bytes) -> bytes:
        return b"ferry-blob:" + self._account + b":" + context


def seal_secret(master: bytes, data: bytes, label: bytes) -> bytes:
    """Seal a server secret (an OAuth signing key) with the master key, bound to ``label``."""
    return _seal(master, data, b"ferry-secret:" + label)


def open_secret(master: bytes, blob: bytes, label: bytes) -> bytes:
    """Open what :func:`seal_secret` sealed with the same ``label``.

    Raises:
        SealError: another master key, another label, or tampered with.
    """
    return _open(master, blob, b"ferry-secret:" + label)
