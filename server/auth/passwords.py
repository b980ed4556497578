"""Passwords: the policy (length, common-password list) and argon2id hashing.

Policy (NIST SP 800-63B): 8 to 128 characters of any Unicode, no composition rules, not in
the list of common passwords shipped in ``common-passwords.txt`` (checked
case-insensitively). Passwords are NFKC-normalised before checking and hashing, so the same
password typed on two keyboards that encode it differently still matches.

Hashing: argon2id with the parameters of ``Config.password_params`` (production default:
argon2-cffi's RFC 9106 low-memory profile). A stored hash made with other parameters is
replaced at the next successful sign-in (:meth:`Passwords.needs_rehash`).
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import argon2

MIN_LENGTH = 8
MAX_LENGTH = 128
_COMMON_FILE = Path(__file__).with_name("common-passwords.txt")


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased (read once)."""
    lines = _COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line and not line.startswith("#"))


def password_problem(password: str) -> str | None:
    """Why ``password`` may not be used, or ``None`` when it is acceptable."""
    password = normalise(password)
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        return f"Choose a password of {MIN_LENGTH} to {MAX_LENGTH} characters."
    if password.lower() in common_passwords():
        return "This password is too common; choose another."
    return None


class Passwords:
    """argon2id hashing with configurable cost."""

    def __init__(self, params: argon2.Parameters) -> None:
        self._hasher = argon2.PasswordHasher.from_parameters(params)
        # A real hash of a random password: verifying against it when an account does not
        # exist keeps sign-in timing the same whether or not the number has an account.
        self._dummy = self._hasher.hash("ferry-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(normalise(password))

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check ``password`` against ``stored_hash`` (``None``: no such account)."""
        try:
            ok = self._hasher.verify(stored_hash or self._dummy, normalise(password))
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        return ok and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        return self._hasher.check_needs_rehash(stored_hash)

    def burn(self, password: str) -> None:
        """Spend the time of one hash without keeping it (equal timing on decoy paths)."""
        self._hasher.hash(normalise(password))
