"""The signing keys of access tokens, shared by every node through the database.

One key signs (the newest that is not retired); rotation adds a new key and retires the
others, which stay published in the JWKS and keep verifying until every token they
signed has expired (the access token lifetime, plus the time another node may take to
notice the rotation). Private keys are sealed with the master key at rest and never
leave this module: the JWKS carries public halves only.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from server.storage.oauth_clients import KeyStore, StoredKey
from server.storage.sealed import open_secret, seal_secret

#: Another node's rotation is seen within this many seconds.
RELOAD_EVERY = 60.0
#: An unknown ``kid`` reloads the keys at most this often (random kids cost no queries).
MISS_RELOAD_EVERY = 5.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKeys:
    def __init__(self, store: KeyStore, master: bytes, *, access_ttl: int) -> None:
        self._store = store
        self._master = master
        self._access_ttl = access_ttl
        self._public: dict[str, Ed25519PublicKey] = {}
        self._raw: dict[str, bytes] = {}
        self._signing: SigningKey | None = None
        self._loaded_at: float | None = None

    @property
    def keep_retired(self) -> timedelta:
        """How long a retired key stays published and verifying."""
        return timedelta(seconds=self._access_ttl + 2 * RELOAD_EVERY)

    async def load(self, monotonic: float) -> None:
        """Read the keys from the database."""
        stored = await self._store.all()
        self._public = {k.kid: Ed25519PublicKey.from_public_bytes(k.public_raw) for k in stored}
        self._raw = {k.kid: k.public_raw for k in stored}
        active = [k for k in stored if k.retired_at is None]
        self._signing = self._open(active[-1]) if active else None
        self._loaded_at = monotonic

    def _open(self, key: StoredKey) -> SigningKey:
        raw = open_secret(self._master, key.private_sealed, key.kid.encode())
        return SigningKey(key.kid, Ed25519PrivateKey.from_private_bytes(raw))

    async def rotate(self, now: datetime, monotonic: float) -> str:
        """Make a new signing key; the others are retired (still verifying). Its kid."""
        private = Ed25519PrivateKey.generate()
        kid = secrets.token_urlsafe(12)
        raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        await self._store.add(
            StoredKey(
                kid=kid,
                private_sealed=seal_secret(self._master, raw, kid.encode()),
                public_raw=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
                created_at=now,
                retired_at=None,
            ),
            retire_others=True,
        )
        await self.load(monotonic)
        return kid

    async def maintain(self, now: datetime, monotonic: float, *, rotate_after: timedelta) -> None:
        """Start-up and periodic care: a key exists; the signing key is rotated when
        older than ``rotate_after``; keys retired long enough ago are dropped."""
        await self._store.drop_retired(now - self.keep_retired)
        stored = await self._store.all()
        active = [k for k in stored if k.retired_at is None]
        if not active or now - active[-1].created_at >= rotate_after:
            await self.rotate(now, monotonic)
        else:
            await self.load(monotonic)

    async def signing(self, monotonic: float) -> SigningKey:
        await self._fresh(monotonic)
        if self._signing is None:
            raise RuntimeError("no OAuth signing key (maintain() runs at start-up)")
        return self._signing

    async def public(self, kid: str, monotonic: float) -> Ed25519PublicKey | None:
        """The verifying key ``kid`` names, if it is one of ours."""
        await self._fresh(monotonic)
        key = self._public.get(kid)
        stale = self._loaded_at is None or monotonic - self._loaded_at >= MISS_RELOAD_EVERY
        if key is None and stale:
            await self.load(monotonic)
            key = self._public.get(kid)
        return key

    async def _fresh(self, monotonic: float) -> None:
        if self._loaded_at is None or monotonic - self._loaded_at >= RELOAD_EVERY:
            await self.load(monotonic)

    async def jwks(self, monotonic: float) -> dict[str, Any]:
        """The public keys (RFC 7517, OKP/Ed25519 per RFC 8037): never a private part."""
        await self._fresh(monotonic)
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": _b64(raw),
                    "kid": kid,
                    "use": "sig",
                    "alg": "EdDSA",
                }
                for kid, raw in self._raw.items()
            ]
        }
