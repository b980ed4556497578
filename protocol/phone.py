"""Phone numbers: normalisation to E.164, shared by every side."""

from __future__ import annotations

from collections.abc import Iterable

import phonenumbers


class InvalidNumber(ValueError):
    """The text is not a valid phone number."""


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


def participants_key(numbers: Iterable[str]) -> str:
    """A conversation's identity on a line: its other participants, normalised and sorted.

    SMS threads are 1:1 today; group conversations (MMS) will key the same way.
    """
    return ",".join(sorted(set(numbers)))
