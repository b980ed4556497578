"""Phone numbers and other SMS addresses, shared by every side.

A conversation's peer is whatever the network shows as the other end, and people write
it in many ways. :func:`classify_peer` turns each spelling into one address, judged on
the line it arrives on or leaves from (the line's own number says its country)::

    text ─▶ has a letter ─▶ name: up to 11 GSM-7 characters, kept as is ("BANK");
         │                   a name can send texts but cannot receive replies
         ├▶ 3-8 digits ──▶ short code, kept as typed without spaces ("12345"), unless
         │                 the line's country says it is a full number there
         └▶ otherwise ───▶ full number: national (07700 900123 on a UK line) or
                           international (+44 7700 900123, 0044 …) ▶ E.164 (+447700900123)

Anything else (empty, over 40 characters, control characters, a number no country can
have) raises :class:`InvalidNumber`. Short codes the phonenumbers metadata does not know
are kept: networks and operators differ, and a code the user typed or received is real.
``to_e164`` remains for callers that need a full international number (sign-up, admin).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from phonenumbers import shortnumberinfo

from protocol.sms import char_units

#: Longest text looked at; longer is refused before any parsing.
MAX_ADDRESS_TEXT = 40
#: An alphanumeric sender fits 10 octets of GSM-7 (TS 23.040 §9.1.2.5): 11 septets.
MAX_NAME_SEPTETS = 11
SHORT_CODE_DIGITS = (3, 8)

PeerKind = Literal["number", "short_code", "name"]

# Unicode categories never part of an address: controls, format characters (bidi
# overrides), surrogates, private use, unassigned, line and paragraph separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_NUMBER_TEXT = re.compile(r"\+?[0-9 ().\-/]+")


class InvalidNumber(ValueError):
    """The text is not a valid phone number (or, for :func:`classify_peer`, address)."""


@dataclass(frozen=True)
class Peer:
    """An SMS address in its one canonical spelling.

    ``address`` is E.164 for a ``number``, ASCII digits for a ``short_code`` and the
    name as sent for a ``name``.
    """

    address: str
    kind: PeerKind

    @property
    def can_reply(self) -> bool:
        """Whether a text can be sent to this address (a name cannot receive one)."""
        return self.kind != "name"


def to_e164(text: str, default_region: str | None = None) -> str:
    """Normalise any common spelling of a phone number to E.164 (``+15550100002``).

    Raises:
        InvalidNumber: not parseable, or not a possible number.
    """
    if len(text) > 40:
        raise InvalidNumber("too long")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise InvalidNumber("not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise InvalidNumber("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=256)
def line_region(line_number: str | None) -> str | None:
    """The country (ISO 3166 code, e.g. ``"GB"``) whose national spellings a line with
    this E.164 number understands; ``None`` when the number does not say.

    A number shared by several countries (+1, +44, +7 …) gets the country the number
    belongs to when the metadata knows it, else the code's main country: they share a
    national format, which is all the region is used for.
    """
    if not line_number or not line_number.startswith("+") or len(line_number) > 20:
        return None
    try:
        number = phonenumbers.parse(line_number, None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code)
    )
    return None if region in (None, phonenumbers.UNKNOWN_REGION, "001") else region


def classify_peer(text: str, line_number: str | None = None) -> Peer:
    """The canonical address of a peer written as ``text``, judged for the line whose
    own number is ``line_number`` (E.164; national spellings need it).

    Idempotent: classifying an address this returns gives the same peer again.

    Raises:
        InvalidNumber: not a number, a short code or a sender name; the message says
            why in words fit for a person.
    """
    # Bounded before the cache: it keeps its keys, and a text of a megabyte of spaces
    # around a number would otherwise be kept too.
    if len(text) > 2 * MAX_ADDRESS_TEXT:
        raise InvalidNumber(f"An address has at most {MAX_ADDRESS_TEXT} characters.")
    return _classify(text, line_number)


# The same few senders write again and again: judging an upload of hundreds of texts
# should not parse each spelling anew (a parse costs some 50 µs). Bounded, pure.
@functools.lru_cache(maxsize=4096)
def _classify(text: str, line_number: str | None) -> Peer:
    value = text.strip()
    if not value:
        raise InvalidNumber("The address is empty.")
    if len(value) > MAX_ADDRESS_TEXT:
        raise InvalidNumber(f"An address has at most {MAX_ADDRESS_TEXT} characters.")
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in value):
        raise InvalidNumber("The address contains control characters.")
    if any(c.isalpha() for c in value):
        return Peer(_checked_name(value), "name")
    return _number_or_short_code(_ascii_digits(value), line_region(line_number))


def canonical_peer(text: str, line_number: str | None) -> str:
    """:func:`classify_peer`'s address, or ``text`` unchanged when it is not one (a
    sender the network delivered is kept; the caller's own rules judge it)."""
    try:
        return classify_peer(text, line_number).address
    except InvalidNumber:
        return text


def participants_key(numbers: Iterable[str]) -> str:
    """A conversation's identity on a line: its other participants, normalised and sorted.

    SMS threads are 1:1 today; group conversations (MMS) will key the same way.
    """
    return ",".join(sorted(set(numbers)))


def example_spellings(line_number: str | None) -> tuple[str, str] | None:
    """A mobile number of the line's country written nationally and internationally
    (``("07400 123456", "+44 7400 123456")``), for hints; ``None`` when unknown."""
    region = line_region(line_number)
    if region is None:
        return None
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    fmt = phonenumbers.PhoneNumberFormat
    return (
        phonenumbers.format_number(example, fmt.NATIONAL),
        phonenumbers.format_number(example, fmt.INTERNATIONAL),
    )


def _checked_name(name: str) -> str:
    try:
        septets = sum(char_units(c, "gsm7") for c in name)
    except ValueError:
        raise InvalidNumber("A sender name uses only the GSM alphabet.") from None
    if septets > MAX_NAME_SEPTETS:
        raise InvalidNumber(f"A sender name has at most {MAX_NAME_SEPTETS} characters.")
    return name


def _ascii_digits(value: str) -> str:
    """Full-width and other script digits as ASCII, odd spaces as plain ones."""
    value = unicodedata.normalize("NFKC", value)
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in value)


def _number_or_short_code(value: str, region: str | None) -> Peer:
    if not _NUMBER_TEXT.fullmatch(value):
        raise InvalidNumber("A number has only digits, spaces, ( ) - . / and a leading +.")
    compact = value.replace(" ", "")
    lo, hi = SHORT_CODE_DIGITS
    if compact.isdigit() and lo <= len(compact) <= hi and not _full_number_here(compact, region):
        return Peer(compact, "short_code")
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidNumber(_no_number(region)) from None
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidNumber(_no_number(region))
    return Peer(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "number")


def _full_number_here(digits: str, region: str | None) -> bool:
    """Whether a few digits are a real number of the region rather than a short code.

    A code the region's short-number metadata knows stays a short code; otherwise only a
    number the metadata calls valid (not merely of a possible length) counts as one.
    """
    if region is None:
        return False
    try:
        number = phonenumbers.parse(digits, region)
    except phonenumbers.NumberParseException:  # e.g. "001": an international prefix
        return False
    if shortnumberinfo.is_valid_short_number_for_region(number, region):
        return False
    return phonenumbers.is_valid_number_for_region(number, region)


def _no_number(region: str | None) -> str:
    if region is None:
        return "Not a phone number; include the country code, e.g. +44 7700 900123."
    return "Not a phone number here: too short or too long for this line's country."
