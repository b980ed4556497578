"""The SIM phonebook of an emulated modem (3GPP TS 27.007 §8.11-8.12), mixed into
:class:`~device_bridge.emulator.modem.EmulatedModem`.

========================  =====================================================
command                   answer
========================  =====================================================
``AT+CPBS=?``             ``+CPBS: ("SM")``
``AT+CPBS?``              ``+CPBS: "SM",<used>,<total>``
``AT+CPBS="SM"``          ``OK`` (any other memory: ``+CME ERROR: 3``)
``AT+CPBR=?``             ``+CPBR: (1-250),40,18`` (index range, number and text length)
``AT+CPBR=<i>[,<j>]``     ``+CPBR: <index>,"<number>",<type>,"<text>"`` per used slot
========================  =====================================================

Strings are in the ``AT+CSCS`` character set: ``"UCS2"`` is the hex of UTF-16-BE (the
number too, as the standard asks), ``"IRA"`` is ASCII (anything else becomes ``?``),
``"GSM"`` sends the default alphabet's septet values as bytes, as firmware does. An index
outside the range is ``+CME ERROR: 21``; a range without entries answers just ``OK``
(``+CME ERROR: 22`` on profiles with ``phonebook_empty_error``). Profiles with
``phonebook_ucs2_only`` (Huawei) send names as UCS2 hex whatever ``AT+CSCS`` says, and
numbers always as plain digits.
"""

from __future__ import annotations

from dataclasses import dataclass

from device_bridge.gsm import gsm7

from .commands import Final, ints, unquote
from .profiles import Profile

__all__ = ["SEED_CONTACTS", "Phonebook", "PhonebookCommands", "PhonebookEntry"]

PHONEBOOK_SIZE = 250
NUMBER_LENGTH = 40
TEXT_LENGTH = 18

#: Contacts every virtual SIM starts with; some names need UCS-2 to survive.
SEED_CONTACTS = (
    ("Alice", "+15550100002"),
    ("Zoë", "+447700900123"),
    ("Миша", "+79161234567"),
    ("李雷", "+8613800138000"),
    ("Bob, Jr [work]", "0123456789"),
    ("Café €5", "+33612345678"),
)


@dataclass(frozen=True)
class PhonebookEntry:
    """One SIM phonebook slot."""

    index: int
    name: str
    number: str

    @property
    def type(self) -> int:
        """TS 24.008 type of address: 145 international, 129 unknown."""
        return 145 if self.number.startswith("+") else 129


class Phonebook:
    """The SM phonebook: numbered slots 1..size.

    Raises (from :meth:`add`):
        ValueError: Name or number too long, a number with other than ``+`` and digits,
            or the phonebook is full.
    """

    def __init__(
        self, size: int = PHONEBOOK_SIZE, *, seed: tuple[tuple[str, str], ...] = SEED_CONTACTS
    ) -> None:
        self.size = size
        self._entries: dict[int, PhonebookEntry] = {}
        for name, number in seed:
            self.add(name, number)

    def add(self, name: str, number: str) -> PhonebookEntry:
        """Store a contact in the lowest free slot and return it."""
        digits = number.removeprefix("+")
        if not name or len(name) > TEXT_LENGTH:
            raise ValueError(f"name must be 1 to {TEXT_LENGTH} characters")
        if not digits.isdigit() or not digits.isascii() or len(number) > NUMBER_LENGTH:
            raise ValueError(f"number must be '+' and digits, at most {NUMBER_LENGTH}")
        index = next((i for i in range(1, self.size + 1) if i not in self._entries), None)
        if index is None:
            raise ValueError("the phonebook is full")
        entry = self._entries[index] = PhonebookEntry(index, name, number)
        return entry

    def entries(self, first: int = 1, last: int | None = None) -> list[PhonebookEntry]:
        """Used slots from ``first`` to ``last`` (inclusive), in index order."""
        last = self.size if last is None else last
        return [self._entries[i] for i in sorted(self._entries) if first <= i <= last]


def encode_string(text: str, charset: str) -> str:
    """*text* as a modem sends it in the TE character set *charset* (no quotes)."""
    if charset == "UCS2":
        return text.encode("utf-16-be").hex().upper()
    if charset == "GSM":
        septets = b"".join(gsm7.to_septets(ch) if gsm7.is_gsm7(ch) else b"?" for ch in text)
        return "".join(map(chr, septets))
    return "".join(ch if ch.isascii() else "?" for ch in text)


class PhonebookCommands:
    """``AT+CPBS`` and ``AT+CPBR`` over :attr:`phonebook` in the :attr:`cscs` charset."""

    profile: Profile
    phonebook: Phonebook
    cscs: str

    def _at_cpbs(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ['+CPBS: ("SM")']
        if mode == "read":
            return [f'+CPBS: "SM",{len(self.phonebook.entries())},{self.phonebook.size}']
        if mode != "set" or unquote(args.strip()).upper() != "SM":
            raise self._cme(3)
        return []

    def _at_cpbr(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return [f"+CPBR: (1-{self.phonebook.size}),{NUMBER_LENGTH},{TEXT_LENGTH}"]
        values = ints(args)
        if mode != "set" or not values:
            raise self._cme(3)
        first, last = values[0], values[1] if len(values) > 1 else values[0]
        if not 1 <= first <= last <= self.phonebook.size:
            raise self._cme(21)
        entries = self.phonebook.entries(first, last)
        if not entries and self.profile.phonebook_empty_error:
            raise self._cme(22)
        return [self._cpbr_line(entry) for entry in entries]

    def _cpbr_line(self, entry: PhonebookEntry) -> str:
        text_charset = "UCS2" if self.profile.phonebook_ucs2_only else self.cscs
        number_charset = "IRA" if self.profile.phonebook_ucs2_only else self.cscs
        number = encode_string(entry.number, number_charset)
        text = encode_string(entry.name, text_charset)
        return f'+CPBR: {entry.index},"{number}",{entry.type},"{text}"'

    def _cme(self, code: int) -> Final:
        raise NotImplementedError
