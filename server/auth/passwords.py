"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile)."""

from __future__ import annotations

import argon2

_hasher = argon2.PasswordHasher()  # argon2id, 64 MiB, t=3, p=4

# A real hash of a random password: verifying against it when an account does not exist
# keeps login timing the same whether or not the number has an account.
_DUMMY_HASH = _hasher.hash("ferry-dummy-password-for-timing")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check ``password`` against ``stored_hash`` (``None``: no such account) in constant time."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except argon2.exceptions.VerificationError:
        return False
    except argon2.exceptions.InvalidHashError:
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return _hasher.check_needs_rehash(stored_hash)
