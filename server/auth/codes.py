"""Verification codes: pure decisions (no I/O, no clock).

A code is 6 digits from :mod:`secrets`. Only a MAC of it is stored: HMAC-SHA256 under the
server's code key over ``purpose``, the number it was sent to and the code, so a code is
bound to the purpose and number it was issued for, and a copy of the database alone does
not reveal live codes (the key lives in a 0600 file beside it, or in ``FERRY_CODE_KEY``).
Comparison is constant-time (:func:`hmac.compare_digest`).

Messages end with the origin-bound line of the WebOTP format (``@host #123456``), so a
browser can offer the code itself and a user can see which site asked for it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import timedelta
from pathlib import Path

CODE_TTL = timedelta(minutes=10)
MAX_ATTEMPTS = 5
#: ``line``: proving another number (a second phone's SIM) belongs to the account.
PURPOSES = ("verify", "change_phone", "reset", "line")
#: Codes a bridge may submit by itself when the code SMS reaches the account's SIM.
AUTO_PURPOSES = ("verify", "change_phone", "line")

_CODE = re.compile(r"\d{6}")
_WEBOTP = re.compile(r"^@([^\s#]+) #(\d{6})\s*$", re.MULTILINE)


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def is_code(text: object) -> bool:
    return isinstance(text, str) and _CODE.fullmatch(text) is not None


def code_mac(key: bytes, purpose: str, phone: str, code: str) -> bytes:
    return hmac.new(key, f"{purpose}\0{phone}\0{code}".encode(), hashlib.sha256).digest()


def code_matches(key: bytes, purpose: str, phone: str, code: str, stored: bytes) -> bool:
    return hmac.compare_digest(stored, code_mac(key, purpose, phone, code))


_TEXTS = {
    "verify": "Your Ferry verification code is {code}. It expires in 10 minutes.",
    "change_phone": "Your Ferry code to move your account to this number is {code}. "
    "It expires in 10 minutes.",
    "line": "Your Ferry code to add this number to your account is {code}. "
    "It expires in 10 minutes.",
    "reset": "Your Ferry password reset code is {code}. It expires in 10 minutes. "
    "If you did not ask for it, ignore this message.",
}

SIGNUP_NOTICE = (
    "Someone tried to create a Ferry account with this number, which already has one. "
    "If it was you, sign in or reset your password."
)


def code_message(purpose: str, code: str, host: str) -> str:
    """The SMS text for a code, ending with the WebOTP line."""
    return f"{_TEXTS[purpose].format(code=code)}\n\n@{host} #{code}"


def webotp_codes(body: str, host: str) -> list[str]:
    """Codes in WebOTP lines of ``body`` bound to ``host``."""
    if "@" not in body:  # the usual case, found without running the pattern
        return []
    return [m.group(2) for m in _WEBOTP.finditer(body) if m.group(1).lower() == host.lower()]


def load_code_key(path: Path, env_value: str | None = None) -> bytes:
    """The code key: from ``FERRY_CODE_KEY`` (64 hex digits), else the key file, created
    0600 with 32 random bytes on first use."""
    if env_value:
        key = bytes.fromhex(env_value)
        if len(key) < 32:
            raise ValueError("FERRY_CODE_KEY must be at least 32 bytes (64 hex digits)")
        return key
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first
        return path.read_bytes()
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return key
