"""Who may sign up, and with which number: decisions only (no I/O, no clock).

Ferry texts a code to every number that signs up, from the operator's own SIM or
gateway. Left open, that is a way to make the operator text strangers, and premium or
foreign numbers that pay their owner per received SMS ("SMS pumping"). Three controls:

* ``FERRY_SIGNUP``: ``open``; ``invite`` (a single-use code the operator made with
  ``ferry admin invite create``); ``closed`` (operators create accounts themselves);
* ``FERRY_SIGNUP_COUNTRIES``: numbers of other countries cannot sign up, nor be added
  to an account as a line or a new number;
* ``FERRY_VERIFY_SMS_PER_HOUR``: every verification text counts against one budget of
  all nodes together (``Throttles.budget`` in ``server/auth/verification.py``).

Invite codes are 20 letters and digits from an alphabet without look-alikes, shown in
groups of four (``ABCD-EFGH-JKMN-PQRS-TVWX``: 100 bits); only their SHA-256 is stored,
with the first group in clear to name them in lists.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import Enum

import phonenumbers

#: Crockford's base 32: no I, L, O or U.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_GROUPS, _GROUP = 5, 4


class Refusal(Enum):
    """Why a sign-up (or a number added to an account) is refused."""

    CLOSED = "signup_closed"
    INVITE_NEEDED = "invite_required"
    COUNTRY = "country_not_allowed"


REFUSAL_TEXT = {
    Refusal.CLOSED: "This Ferry server does not take new sign-ups. Ask its operator "
    "for an account.",
    Refusal.INVITE_NEEDED: "Signing up on this Ferry server needs an invite code from "
    "its operator.",
    Refusal.COUNTRY: "Numbers from this country cannot be used on this Ferry server.",
}
INVITE_INVALID = "That invite code is not valid: it may be mistyped, used, revoked or expired."


@dataclass(frozen=True)
class SignupPolicy:
    mode: str
    #: ISO 3166 regions allowed; empty: every one.
    countries: frozenset[str] = frozenset()

    def number_refusal(self, phone: str) -> Refusal | None:
        """COUNTRY when ``phone`` (E.164) is of a country not on the allow-list."""
        if not self.countries:
            return None
        return None if region_of(phone) in self.countries else Refusal.COUNTRY

    def signup_refusal(self, phone: str, invite_given: bool) -> Refusal | None:
        """Why a sign-up of ``phone`` is refused before anything else is looked at."""
        if self.mode == "closed":
            return Refusal.CLOSED
        if self.mode == "invite" and not invite_given:
            return Refusal.INVITE_NEEDED
        return self.number_refusal(phone)


def region_of(phone: str) -> str | None:
    """The region of an E.164 number: its own when the metadata knows the number, else
    the main region of its country code (``+1`` → US); None if neither is known."""
    try:
        number = phonenumbers.parse(phone)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code)
    )
    return None if region in (None, phonenumbers.UNKNOWN_REGION, "001") else region


def new_invite_code() -> str:
    """A fresh invite code, grouped for reading aloud."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_GROUPS * _GROUP))
    return "-".join(raw[i : i + _GROUP] for i in range(0, len(raw), _GROUP))


def normalise_invite(text: str) -> str | None:
    """The code as stored (upper case, no separators, look-alikes mapped), or None when
    it cannot be a code."""
    if len(text) > 64:
        return None
    bare = text.upper().replace("-", "").replace(" ", "")
    bare = bare.translate(str.maketrans("ILO", "110"))
    if len(bare) != _GROUPS * _GROUP or any(c not in _ALPHABET for c in bare):
        return None
    return bare


def invite_hash(normalised: str) -> bytes:
    return hashlib.sha256(normalised.encode()).digest()
