"""The SIM phonebook: +CPBS/+CPBR/+CSCS parsers, the emulator's phonebook, and
SerialModem.read_contacts over real ptys for every quirk profile."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from device_bridge.drivers.base import Contact
from device_bridge.drivers.serial import SerialModem
from device_bridge.emulator.modem import EmulatedModem
from device_bridge.emulator.network import Network
from device_bridge.emulator.phonebook import SEED_CONTACTS, Phonebook
from device_bridge.emulator.profiles import PROFILES
from device_bridge.emulator.run import Emulator, open_emulator
from device_bridge.gsm import at
from device_bridge.gsm.errors import CmeError

ONE, TWO = "+15550100001", "+15550100002"
SEEDED = [Contact(name, number) for name, number in SEED_CONTACTS]
pytestmark = pytest.mark.timeout(20)


# ---------------------------------------------------------------- parsers (pure)


def test_parse_storage_and_range() -> None:
    assert at.parse_cpbs_support(['+CPBS: ("SM","FD","ON")']) == ("SM", "FD", "ON")
    assert at.parse_cpbs(['+CPBS: "SM",6,250']) == at.CpbsStatus("SM", 6, 250)
    assert at.parse_cpbs(['+CPBS: "SM"']) == at.CpbsStatus("SM", None, None)
    assert at.parse_cpbr_support(["+CPBR: (1-250),40,14"]) == at.CpbrRange(1, 250, 40, 14)
    assert at.parse_cpbr_support(["+CPBR: (1),20"]) == at.CpbrRange(1, 1, 20, None)
    assert at.parse_cpbr_support(["+CPBR: (9-1),20,14"]) is None
    assert at.parse_cpbr_support(["OK"]) is None
    assert at.parse_cscs(['+CSCS: "ucs2"']) == "UCS2"
    assert at.parse_cscs_support(['+CSCS: ("GSM","IRA","UCS2")']) == ("GSM", "IRA", "UCS2")


def test_parse_cpbr_in_each_charset() -> None:
    ucs2 = [
        '+CPBR: 2,"002B003400340037003700300030003900300030003100320033",145,"005A006F00EB"',
        '+CPBR: 4,"+8613800138000",145,"674E96F7"',  # number plain despite UCS2
        '+CPBR: 5,"0123",129,"80041C043804480430"',
    ]  # SIM's own 0x80 UCS2 marker
    assert at.parse_cpbr(ucs2, "UCS2") == [
        at.CpbrEntry(2, "+447700900123", 145, "Zoë"),
        at.CpbrEntry(4, "+8613800138000", 145, "李雷"),
        at.CpbrEntry(5, "0123", 129, "Миша"),
    ]
    gsm = ['+CPBR: 5,"0123456789",129,"Bob, Jr \x1b<work\x1b>"', '+CPBR: 6,"33612",145,"Caf\x05"']
    assert at.parse_cpbr(gsm, "GSM") == [
        at.CpbrEntry(5, "0123456789", 129, "Bob, Jr [work]"),
        at.CpbrEntry(6, "+33612", 145, "Café"),
    ]
    assert at.parse_cpbr(['+CPBR: 1,"+1555",145,"Zo?"', "+CPBR: x,1"], "IRA") == [
        at.CpbrEntry(1, "+1555", 145, "Zo?")
    ]


def test_decode_string_keeps_what_it_cannot_decode() -> None:
    assert at.decode_string("Alice", "UCS2") == "Alice"  # not hex: kept as sent
    assert at.decode_string("", "UCS2") == ""
    assert at.decode_string("Grüße", "GSM") == "Grüße"  # firmware sending Latin-1/UTF-8
    assert at.decode_string("abc", "8859-1") == "abc"


# ---------------------------------------------------------------- emulator


def answer(modem: EmulatedModem, command: str) -> str:
    out = bytearray()
    modem.attach(out.extend)
    modem.receive(command.encode() + b"\r")
    return out.decode()


def test_emulated_phonebook_commands() -> None:
    modem = EmulatedModem(ONE, Network(), profile=PROFILES["generic"])
    answer(modem, "ATE0")
    assert '+CPBS: ("SM")' in answer(modem, "AT+CPBS=?")
    assert f'+CPBS: "SM",{len(SEED_CONTACTS)},250' in answer(modem, "AT+CPBS?")
    assert "+CPBR: (1-250),40,18" in answer(modem, "AT+CPBR=?")
    assert answer(modem, 'AT+CPBS="FD"').endswith("ERROR\r\n")
    answer(modem, "AT+CMEE=1")
    assert "+CME ERROR: 21" in answer(modem, "AT+CPBR=0")
    assert "+CME ERROR: 21" in answer(modem, "AT+CPBR=9,3")
    assert answer(modem, "AT+CPBR=100,120") == "\r\nOK\r\n"  # empty slots: no lines
    assert '+CPBR: 1,"+15550100002",145,"Alice"' in answer(modem, "AT+CPBR=1")
    answer(modem, 'AT+CSCS="UCS2"')
    assert '145,"005A006F00EB"' in answer(modem, "AT+CPBR=2")  # "Zoë"
    assert "+CME ERROR: 4" in answer(modem, 'AT+CSCS="KOI8"')


def test_quirks_empty_range_error_and_ucs2_only_names() -> None:
    quectel = EmulatedModem(ONE, Network(), profile=PROFILES["quectel"])
    answer(quectel, "AT+CMEE=1")
    assert "+CME ERROR: 22" in answer(quectel, "AT+CPBR=200,250")
    huawei = EmulatedModem(ONE, Network(), profile=PROFILES["huawei"])
    assert '+CPBR: 1,"+15550100002",145,"0041006C006900630065"' in answer(huawei, "AT+CPBR=1")


def test_locked_sim_refuses_the_phonebook() -> None:
    modem = EmulatedModem(ONE, Network(), profile=PROFILES["generic"])
    modem.update_faults({"pin_locked": True})
    answer(modem, "AT+CMEE=1")
    assert "+CME ERROR: 11" in answer(modem, "AT+CPBR=1")


def test_phonebook_store_limits() -> None:
    book = Phonebook(3, seed=())
    assert book.add("A", "+1").index == 1
    for name, number in (("", "+1"), ("x" * 19, "+1"), ("B", "12a"), ("B", "+" + "1" * 40)):
        with pytest.raises(ValueError):
            book.add(name, number)
    book.add("B", "2")
    book.add("C", "3")
    with pytest.raises(ValueError, match="full"):
        book.add("D", "4")


# ---------------------------------------------------------------- control API + driver


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with open_emulator([ONE, TWO], control_port=0) as emu:
        yield emu


async def call(
    emulator: Emulator, method: str, path: str, body: object = None
) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, emulator.control_url + path, json=body) as response,
    ):
        return response.status, await response.json()


async def test_contacts_control_api(emulator: Emulator) -> None:
    status, entry = await call(
        emulator, "POST", f"/phones/{ONE}/contacts", {"name": "Ünal", "number": "+905321234567"}
    )
    assert (status, entry) == (201, {"index": 7, "name": "Ünal", "number": "+905321234567"})
    status, entries = await call(emulator, "GET", f"/phones/{ONE}/contacts")
    assert status == 200
    assert [e["name"] for e in entries] == [*(n for n, _ in SEED_CONTACTS), "Ünal"]
    status, error = await call(
        emulator, "POST", f"/phones/{ONE}/contacts", {"name": "x", "number": "call me"}
    )
    assert (status, error["error"]["code"]) == (400, "bad_contact")


def make_modem(emulator: Emulator) -> SerialModem:
    return SerialModem(emulator.phones[0].pty, command_timeout=1.0, send_timeout=2.0)


@pytest.mark.parametrize("profile", sorted(PROFILES))
async def test_read_contacts_per_profile(profile: str) -> None:
    async with open_emulator([ONE], control_port=0, profiles={ONE: profile}) as emu:
        emulated = emu.phones[0].modem
        for n in range(60):  # past one 50-slot chunk
            emulated.phonebook.add(f"Friend {n}", f"+4477009{n:05d}")
        modem = make_modem(emu)
        await modem.open()
        try:
            contacts = await modem.read_contacts()
            assert emulated.cscs == "GSM"  # the character set in use before is back
            assert (await modem.status()).operator == "Ferry Mobile"
        finally:
            await modem.close()
    expected = [*SEEDED, *(Contact(f"Friend {n}", f"+4477009{n:05d}") for n in range(60))]
    if profile == "wavecom":  # no UCS2: what GSM cannot carry arrives as "?"
        lossy = {"Zoë": "Zo?", "Миша": "????", "李雷": "??"}
        expected = [Contact(lossy.get(c.name, c.name), c.number) for c in expected]
    assert contacts == expected


async def test_read_contacts_keeps_ucs2_when_already_chosen(emulator: Emulator) -> None:
    emulator.phones[0].modem.cscs = "UCS2"
    modem = make_modem(emulator)
    await modem.open()
    try:
        assert (await modem.read_contacts())[:4] == SEEDED[:4]
        assert emulator.phones[0].modem.cscs == "UCS2"
    finally:
        await modem.close()


async def test_read_contacts_of_an_empty_sim(emulator: Emulator) -> None:
    emulator.phones[0].modem.phonebook = Phonebook(seed=())
    modem = make_modem(emulator)
    await modem.open()
    try:
        assert await modem.read_contacts() == []
    finally:
        await modem.close()


async def test_read_contacts_on_a_sim_that_locked_again(emulator: Emulator) -> None:
    modem = make_modem(emulator)
    await modem.open()
    try:
        emulator.phones[0].modem.update_faults({"pin_locked": True})
        with pytest.raises(CmeError) as caught:
            await modem.read_contacts()
        assert caught.value.code == 11
    finally:
        await modem.close()
