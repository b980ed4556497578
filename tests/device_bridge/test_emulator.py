"""The emulator: AT interpreter, network routing, control API, scripted contact, CLI."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from device_bridge.emulator.modem import EmulatedModem
from device_bridge.emulator.network import Network
from device_bridge.emulator.profiles import PROFILES, Faults
from device_bridge.emulator.run import Emulator, default_numbers, open_emulator, run_emulator
from device_bridge.emulator.scripted import FRIENDLY_LINES, ScriptedContact
from device_bridge.gsm.pdu import Deliver, decode_pdu, encode_submit

ONE, TWO = "+15550100001", "+15550100002"
NOW = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
pytestmark = pytest.mark.timeout(20)


class Wire:
    """An emulated modem with its output captured, typed at like a terminal."""

    def __init__(
        self, profile: str = "generic", network: Network | None = None, number: str = ONE
    ) -> None:
        self.network = network or Network(clock=lambda: NOW)
        self.modem = EmulatedModem(number, self.network, profile=PROFILES[profile])
        self.network.attach(self.modem)
        self.output = bytearray()
        self.modem.attach(self.output.extend)

    def type(self, data: bytes) -> bytes:
        self.output.clear()
        self.modem.receive(data)
        return bytes(self.output)

    def at(self, command: str) -> bytes:
        return self.type(command.encode() + b"\r")


# ---------------------------------------------------------------- AT interpreter


def test_echo_and_ok() -> None:
    wire = Wire()
    assert wire.at("AT") == b"AT\r\r\nOK\r\n"
    assert wire.at("ATE0") == b"ATE0\r\r\nOK\r\n"
    assert wire.at("AT") == b"\r\nOK\r\n"


def test_identification_and_concatenated_commands() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert wire.at("AT+CGMI;+CGMM") == b"\r\nFerry\r\nVirtual GSM Modem\r\n\r\nOK\r\n"
    assert b"Revision: 1.0" in wire.at("ATI")
    assert wire.at("AT+CGSN").startswith(b"\r\n35")
    assert wire.at("AT+BOGUS") == b"\r\nERROR\r\n"


def test_boot_urcs_and_vendor_errors() -> None:
    huawei = Wire("huawei")
    answer = huawei.at("AT")
    assert answer.startswith(b"\r\n^BOOT:")
    assert answer.endswith(b"\r\nOK\r\n")
    assert huawei.at("AT+CNUM") == b"\r\nCOMMAND NOT SUPPORT\r\n"
    assert huawei.at("AT+CNMI=2,1,0,1,0").endswith(b"\r\n+CMS ERROR: 303\r\n")
    assert b"^RSSI" in b"".join(huawei.at("AT") for _ in range(3))


def test_cme_error_verbosity_and_pin() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.modem.update_faults({"pin_locked": True})
    assert wire.at("AT+CPIN?") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
    assert wire.at("AT+CIMI") == b"\r\nERROR\r\n"
    wire.at("AT+CMEE=2")
    assert wire.at("AT+CIMI") == b"\r\n+CME ERROR: SIM PIN required\r\n"
    assert wire.at("AT+CMGL=4") == b"\r\n+CMS ERROR: 311\r\n"
    wire.at("AT+CMEE=1")
    assert wire.at('AT+CPIN="0000"') == b"\r\n+CME ERROR: 16\r\n"
    assert wire.at('AT+CPIN="1234"').startswith(b"\r\nOK\r\n")
    assert wire.at("AT+CPIN?").startswith(b"\r\n+CPIN: READY\r\n")


def test_storage_selection() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert wire.at("AT+CPMS=?") == b'\r\n+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")\r\n\r\nOK\r\n'
    assert wire.at('AT+CPMS="ME","ME","ME"') == b"\r\n+CPMS: 0,100,0,100,0,100\r\n\r\nOK\r\n"
    assert wire.at("AT+CPMS?").startswith(b'\r\n+CPMS: "ME",0,100,')
    assert wire.at('AT+CPMS="XX"') == b"\r\n+CMS ERROR: 302\r\n"


def test_send_prompt_pdu_and_reference() -> None:
    network = Network(clock=lambda: NOW)
    one, two = Wire(network=network), Wire(network=network, number=TWO)
    (part,) = encode_submit(TWO, "hello")
    # TS 27.005 §3.5.1: the prompt is <CR><LF>> after the command line
    assert one.at(f"AT+CMGS={part.tpdu_length}") == f"AT+CMGS={part.tpdu_length}\r\r\n> ".encode()
    assert one.type(part.hex.encode() + b"\x1a").endswith(b"\r\n+CMGS: 0\r\n\r\nOK\r\n")
    assert [(m.sender, m.text, m.timestamp) for m in two.modem.received] == [(ONE, "hello", NOW)]
    assert network.sent[ONE][0].text == "hello"


def _reports(output: bytes) -> list[int]:
    """TP-ST of every +CDS report in ``output``."""
    lines = output.decode().split("\r\n")
    return [
        decode_pdu(lines[i + 1]).status for i, line in enumerate(lines) if line.startswith("+CDS:")
    ]


def _send_with_report(one: Wire) -> None:
    one.at("ATE0")
    one.at("AT+CNMI=2,1,0,1,0")
    (part,) = encode_submit(TWO, "hello", request_status_report=True)
    one.at(f"AT+CMGS={part.tpdu_length}")
    one.type(part.hex.encode() + b"\x1a")


def test_report_faults_failed_and_trying_then_delivered() -> None:
    network = Network(clock=lambda: NOW)
    one, _two = Wire(network=network), Wire(network=network, number=TWO)
    _send_with_report(one)
    assert _reports(bytes(one.output)) == [0]
    one.modem.update_faults({"report_status": 70})
    _send_with_report(one)
    assert _reports(bytes(one.output)) == [0x46]  # permanent failure
    one.modem.update_faults({"report_status": None, "report_trying": True})
    _send_with_report(one)
    assert _reports(bytes(one.output)) == [0x21, 0]  # still trying, then delivered


def test_report_delay_uses_the_scheduler() -> None:
    network = Network(clock=lambda: NOW)
    later: list[tuple[float, object]] = []
    modem = EmulatedModem(ONE, network, schedule=lambda d, cb: later.append((d, cb)))
    network.attach(modem)
    network.attach(EmulatedModem(TWO, network))
    output = bytearray()
    modem.attach(output.extend)
    modem.update_faults({"report_trying": True, "report_delay": 5})
    for command in (b"ATE0\r", b"AT+CNMI=2,1,0,1,0\r"):
        modem.receive(command)
    (part,) = encode_submit(TWO, "hi", request_status_report=True)
    modem.receive(f"AT+CMGS={part.tpdu_length}\r".encode())
    modem.receive(part.hex.encode() + b"\x1a")
    assert _reports(bytes(output)) == [0x21]
    ((delay, callback),) = later
    output.clear()
    callback()  # type: ignore[operator]
    assert (delay, _reports(bytes(output))) == (5.0, [0])


def test_escape_aborts_and_bad_pdus_are_refused() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CMGS=20")
    assert wire.type(b"0011\x1b") == b"\r\nOK\r\n"
    wire.at("AT+CMGS=20")
    assert wire.type(b"0011\x1a") == b"\r\n+CMS ERROR: 304\r\n"
    (part,) = encode_submit(TWO, "hello")
    wire.at(f"AT+CMGS={part.tpdu_length + 1}")  # length does not match the PDU
    assert wire.type(part.hex.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"
    assert wire.at("AT+CMGS=2") == b"\r\n+CMS ERROR: 304\r\n"


def test_wavecom_prompt_comes_without_a_line_break() -> None:
    wire = Wire("wavecom")
    wire.at("ATE0")
    assert wire.at("AT+CMGS=20") == b"> "


def test_incoming_message_is_stored_announced_and_read() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CNMI=2,1,0,1,0")
    wire.output.clear()
    wire.modem.deliver("+447700900123", "hi", NOW)
    assert bytes(wire.output) == b'\r\n+CMTI: "SM",1\r\n'
    header, pdu = wire.at("AT+CMGR=1").split(b"\r\n")[1:3]
    assert header.startswith(b"+CMGR: 0,,")
    message = decode_pdu(pdu.decode())
    assert isinstance(message, Deliver)
    assert (message.sender, message.text, message.timestamp) == ("+447700900123", "hi", NOW)
    assert wire.at("AT+CMGR=1").startswith(b"\r\n+CMGR: 1,,")  # now read
    assert wire.at("AT+CMGR=31") == b"\r\n+CMS ERROR: 321\r\n"
    assert wire.at("AT+CMGR=2") == b"\r\nOK\r\n"


def test_direct_delivery_with_cnmi_mt_2() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CNMI=2,2,0,0,0")
    wire.output.clear()
    wire.modem.deliver("+447700900123", "direct", NOW)
    header, pdu = bytes(wire.output).split(b"\r\n")[1:3]
    assert header.startswith(b"+CMT: ,")
    assert decode_pdu(pdu.decode()).text == "direct"
    assert wire.modem.memories["SM"].used == 0


def test_full_sim_refuses_writes_and_holds_deliveries() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CNMI=2,1,0,0,0")
    for n in range(31):
        wire.modem.deliver("+447700900123", f"message {n}", NOW)
    assert wire.modem.memories["SM"].used == 30
    (part,) = encode_submit(TWO, "draft")
    wire.at(f"AT+CMGW={part.tpdu_length}")
    assert wire.type(part.hex.encode() + b"\x1a") == b"\r\n+CMS ERROR: 322\r\n"
    assert len(wire.modem.received) == 31  # the user-visible log keeps everything
    wire.at("AT+CMGD=4")
    assert wire.modem.memories["SM"].get(4) is not None  # the waiting message moved in
    assert wire.at("AT+CMGD=1,4") == b"\r\nOK\r\n"
    assert wire.modem.memories["SM"].used == 0


def test_text_mode_is_refused_for_sms_commands() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CMGF=1")
    assert wire.at("AT+CMGL=4") == b"\r\n+CMS ERROR: 302\r\n"


def test_faults_validate_names_and_types() -> None:
    faults = Faults()
    faults.update({"hang": True, "send_delay": 1, "send_error": 42})
    assert (faults.hang, faults.send_delay, faults.send_error) == (True, 1.0, 42)
    faults.update({"report_status": 70})
    for bad in (
        {"nope": 1},
        {"hang": "yes"},
        {"drop_responses": -1},
        {"send_error": "x"},
        {"report_status": 256},
        {"report_status": True},
    ):
        with pytest.raises(ValueError):
            faults.update(bad)


# ---------------------------------------------------------------- network


def test_network_reassembles_parts_and_records_external() -> None:
    network = Network(clock=lambda: NOW)
    two = Wire(network=network, number=TWO)
    text = "Part of a long story. " * 10
    parts = [decode_pdu(p.hex) for p in encode_submit(TWO, text, concat_ref=7)]
    for reference, part in reversed(list(enumerate(parts))):
        network.submit(ONE, part, reference)
    assert [m.text for m in two.modem.received] == [text]
    network.send_text(TWO, "+447700900123", "outside")
    assert [(m.sender, m.recipient, m.external) for m in network.external] == [
        (TWO, "+447700900123", True)
    ]


# ---------------------------------------------------------------- control API and run


@pytest.fixture
async def emulator(tmp_path: Path) -> AsyncIterator[Emulator]:
    async with open_emulator([ONE, TWO], control_port=0, state_file=tmp_path / "state.json") as emu:
        yield emu


async def call(
    emulator: Emulator, method: str, path: str, body: object = None
) -> tuple[int, object]:
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, emulator.control_url + path, json=body) as response,
    ):
        return response.status, await response.json()


async def test_state_file_and_phone_list(emulator: Emulator, tmp_path: Path) -> None:
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["control"] == emulator.control_url
    assert [p["number"] for p in state["phones"]] == [ONE, TWO]
    assert all(os.path.exists(p["pty"]) for p in state["phones"])
    status, phones = await call(emulator, "GET", "/phones")
    assert status == 200
    assert phones == [{**p, "profile": "generic"} for p in state["phones"]]


async def test_user_send_inject_and_received_log(emulator: Emulator) -> None:
    assert (
        await call(emulator, "POST", f"/phones/{ONE}/send", {"to": TWO, "text": "typed on phone 1"})
    )[0] == 201
    assert (
        await call(
            emulator, "POST", f"/phones/{TWO}/inject", {"from": "Bank", "text": "Your code is 1234"}
        )
    )[0] == 201
    emulator.phones[1].modem.memories["SM"].delete(1)  # the log outlives the SIM slot
    status, received = await call(emulator, "GET", f"/phones/{TWO}/messages")
    assert status == 200
    assert [(m["from"], m["text"]) for m in received] == [
        (ONE, "typed on phone 1"),
        ("Bank", "Your code is 1234"),
    ]
    _, sent = await call(emulator, "GET", f"/phones/{ONE}/sent")
    assert [(m["to"], m["text"]) for m in sent] == [(TWO, "typed on phone 1")]


async def test_faults_endpoint(emulator: Emulator) -> None:
    status, faults = await call(
        emulator, "POST", f"/phones/{ONE}/faults", {"send_delay": 0.5, "garbage": True}
    )
    assert status == 200
    assert (faults["send_delay"], faults["garbage"]) == (0.5, True)
    status, error = await call(emulator, "POST", f"/phones/{ONE}/faults", {"melt": True})
    assert (status, error["error"]["code"]) == (400, "bad_fault")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("GET", "/phones/+19999999999/messages", None, 404, "unknown_phone"),
        ("POST", f"/phones/{ONE}/inject", {"from": "x"}, 400, "bad_field"),
        ("POST", f"/phones/{ONE}/inject", [1], 400, "bad_json"),
        ("POST", f"/phones/{ONE}/send", {"to": TWO, "text": "x" * 39_016}, 400, "bad_field"),
        # UCS-2 past 255 parts
        ("POST", f"/phones/{ONE}/send", {"to": TWO, "text": "ж" * 17_086}, 400, "cannot_encode"),
        (
            "POST",
            f"/phones/{ONE}/inject",
            {"from": TWO, "text": "x", "ref_bits": 7},
            400,
            "bad_field",
        ),
    ],
)
async def test_control_errors(
    emulator: Emulator, method: str, path: str, body: object, status: int, code: str
) -> None:
    got_status, error = await call(emulator, method, path, body)
    assert (got_status, error["error"]["code"]) == (status, code)


async def test_scripted_contact_uses_the_injected_sleep() -> None:
    network = Network(clock=lambda: NOW)
    one = Wire(network=network)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    contact = ScriptedContact(network, TWO, ONE, interval=20, sleep=fake_sleep)
    await contact.run(count=3)
    assert slept == [20, 20, 20]
    assert [m.text for m in one.modem.received] == list(FRIENDLY_LINES[:3])
    assert all(m.sender == TWO for m in one.modem.received)


async def test_run_emulator_with_contact_interval() -> None:
    emulator = await run_emulator([ONE], control_port=0, contact_interval=0.05)
    try:
        for _ in range(40):
            if emulator.phones[0].modem.received:
                break
            await asyncio.sleep(0.05)
        assert emulator.phones[0].modem.received[0].sender == "+15550199999"
    finally:
        await emulator.close()


async def test_run_emulator_refuses_bad_input() -> None:
    with pytest.raises(ValueError):
        await run_emulator([ONE, ONE], control_port=0)
    with pytest.raises(ValueError):
        await run_emulator([ONE], control_port=0, profiles={ONE: "nokia"})


def test_default_numbers() -> None:
    assert default_numbers(2) == [ONE, TWO]


def test_cli_runs_until_sigterm(tmp_path: Path) -> None:
    state_file = tmp_path / "state.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "device_bridge.emulator",
            "--phones",
            "2",
            "--control-port",
            "0",
            "--state-file",
            str(state_file),
            "--profile",
            "simcom",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while not state_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        state = json.loads(state_file.read_text())
        assert [p["number"] for p in state["phones"]] == [ONE, TWO]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()


# ---------------------------------------------------------------- what modem tools ask


def _answer(wire: Wire, command: str) -> list[str]:
    """The lines of one answer, without framing (echo off)."""
    return [line for line in wire.at(command).decode().split("\r\n") if line]


def test_registration_with_cell_and_packet_state() -> None:
    wire, huawei, simcom = Wire(), Wire("huawei"), Wire("simcom")
    for w in (wire, huawei, simcom):
        w.at("ATE0")
    assert _answer(wire, "AT+CREG?") == ["+CREG: 0,1", "OK"]
    assert _answer(wire, "AT+CGREG?") == ["+CGREG: 0,1", "OK"]
    wire.at("AT+CREG=2;+CGREG=2;+CEREG=2")
    assert _answer(wire, "AT+CREG?") == ['+CREG: 2,1,"1001","000186A1",7', "OK"]
    assert _answer(wire, "AT+CGREG?") == ['+CGREG: 2,1,"1001","000186A1",7', "OK"]
    assert _answer(wire, "AT+CEREG?") == ['+CEREG: 2,1,"1001","000186A1",7', "OK"]
    assert _answer(wire, "AT+CGATT?") == ["+CGATT: 1", "OK"]
    # 2G firmware: 16-bit cell id, no access technology, no EPS
    simcom.at("AT+CREG=2")
    assert _answer(simcom, "AT+CREG?") == ['+CREG: 2,1,"1001","86A1"', "OK"]
    assert _answer(simcom, "AT+CEREG?") == ["ERROR"]
    assert _answer(huawei, "AT+CEREG?")[-1] == "COMMAND NOT SUPPORT"
    # the radio off: not registered, announced to whoever asked (n > 0)
    assert _answer(wire, "AT+CFUN=4") == ["OK", "+CREG: 0", "+CGREG: 0", "+CEREG: 0"]
    assert _answer(wire, "AT+CGATT?") == ["+CGATT: 0", "OK"]


def test_operator_formats_and_deregistration() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert _answer(wire, "AT+COPS?") == ['+COPS: 0,0,"Ferry Mobile",7', "OK"]
    wire.at("AT+COPS=3,2")
    assert _answer(wire, "AT+COPS?") == ['+COPS: 0,2,"00101",7', "OK"]
    wire.at("AT+COPS=3,1")
    assert _answer(wire, "AT+COPS?") == ['+COPS: 0,1,"Ferry",7', "OK"]
    assert _answer(wire, 'AT+COPS=1,2,"99999"') == ["ERROR"]  # CMEE 0
    wire.at("AT+COPS=2")
    assert _answer(wire, "AT+COPS?") == ["+COPS: 2", "OK"]
    assert _answer(wire, "AT+CREG?") == ["+CREG: 0,0", "OK"]
    wire.at("AT+COPS=0")
    assert _answer(wire, "AT+CREG?") == ["+CREG: 0,1", "OK"]


def test_cnmi_offers_broadcasts_and_refuses_what_it_does_not_offer() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert _answer(wire, "AT+CNMI=?") == ["+CNMI: (0,1,2),(0,1,2,3),(0,2),(0,1,2),(0,1)", "OK"]
    assert _answer(wire, "AT+CNMI=2,1,2,2,0") == ["OK"]  # what gammu asks for
    assert _answer(wire, "AT+CNMI=2,1,1,1,0") == ["+CMS ERROR: 303"]  # bm 1 not offered
    assert _answer(wire, "AT+CNMI=2,1,0,1,2") == ["+CMS ERROR: 303"]  # bfr 2 not offered
    assert _answer(wire, "AT+CNMI?") == ["+CNMI: 2,1,2,2,0", "OK"]


def test_start_up_probes_of_modem_managers() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert _answer(wire, "AT+GCAP") == ["+GCAP: +CGSM", "OK"]
    assert _answer(wire, "AT+WS46=?") == ["+WS46: (12,22,25,28,29,30,31)", "OK"]
    assert _answer(wire, "AT+CRSM=176,12258,0,0,10") == [
        '+CRSM: 144,0,"980001115505010010F5"',
        "OK",
    ]  # 8900101155501000015 as the SIM has it
    assert _answer(wire, "AT+CRSM=176,28486,0,0,17")[0].startswith('+CRSM: 144,0,"01466572')
    assert _answer(wire, "AT+CRSM=176,1234,0,0,10") == ["+CRSM: 106,130", "OK"]
    assert _answer(wire, "AT+CCID") == ["+CCID: 8900101155501000015", "OK"]
    assert _answer(wire, 'AT+CLCK="SC",2') == ["+CLCK: 0", "OK"]
    assert _answer(wire, "AT+CIND?") == ["+CIND: 5,4,1,0,0,0,0", "OK"]
    assert _answer(wire, "AT+CMER=3,0,0,1") == ["OK"]
    wire.modem.update_faults({"signal": 99})
    assert _answer(wire, "AT+CFUN=4") == ["OK", "+CIEV: 3,0"]
    assert _answer(wire, "AT+CGDCONT?") == ['+CGDCONT: 1,"IP","internet","0.0.0.0",0,0', "OK"]
    wire.at('AT+CGDCONT=2,"IPV4V6","ims"')
    wire.at("AT+CGDCONT=1")
    assert _answer(wire, "AT+CGDCONT?") == ['+CGDCONT: 2,"IPV4V6","ims","0.0.0.0",0,0', "OK"]
    assert _answer(wire, "AT+CSMS?") == ["+CSMS: 0,1,1,1", "OK"]


def test_sim_lock_facility_follows_the_pin() -> None:
    wire = Wire()
    wire.at("ATE0")
    wire.at("AT+CMEE=1")
    assert _answer(wire, 'AT+CLCK="SC",1,"0000"') == ["+CME ERROR: 16"]
    assert _answer(wire, 'AT+CLCK="SC",1,"1234"') == ["OK"]
    assert _answer(wire, 'AT+CLCK="SC",2') == ["+CLCK: 1", "OK"]
    assert wire.modem.faults.pin_locked  # asked for again after the next power-up


def test_cmt_wants_an_acknowledgement_under_service_1() -> None:
    wire = Wire()
    wire.at("ATE0")
    assert _answer(wire, "AT+CSMS=1") == ["+CSMS: 1,1,1", "OK"]
    wire.at("AT+CNMI=2,2,0,0,0")
    assert _answer(wire, "AT+CNMA") == ["+CMS ERROR: 340"]  # nothing to acknowledge
    wire.modem.deliver("+447700900123", "hi", NOW)
    assert _answer(wire, "AT+CNMA") == ["OK"]
    assert _answer(wire, "AT+CNMA") == ["+CMS ERROR: 340"]


def test_huawei_answers_its_own_commands_and_counts_slots_from_zero() -> None:
    wire = Wire("huawei")
    assert _answer(wire, "AT^CURC=0")[-1] == "OK"  # where gammu gave up before
    assert _answer(wire, "AT^PORTSEL=1") == ["OK"]
    assert _answer(wire, "AT^CURC?") == ["^CURC: 0", "OK"]
    assert not any("^RSSI" in line for _ in range(6) for line in _answer(wire, "AT"))
    assert _answer(wire, "AT^SYSINFO") == ["^SYSINFO:2,3,0,5,1,,4", "OK"]
    assert _answer(wire, "AT^SYSCFG?") == ["^SYSCFG:2,0,3FFFFFFF,1,2", "OK"]
    assert _answer(wire, "AT^CPIN?") == ["^CPIN: READY,,10,3,10,3", "OK"]
    assert _answer(wire, "AT^GETPORTMODE")[0].startswith("^GETPORTMODE: TYPE: WCDMA: huawei")
    assert _answer(wire, "AT^NOSUCH") == ["COMMAND NOT SUPPORT"]
    other = Wire()
    other.at("ATE0")
    assert _answer(other, "AT^CURC=0") == ["ERROR"]  # not on other firmware
    wire.at("AT+CNMI=2,1,0,2,0")
    wire.output.clear()
    wire.modem.deliver("+447700900123", "hi", NOW)
    assert bytes(wire.output) == b'\r\n+CMTI: "SM",0\r\n'
    assert _answer(wire, "AT+CMGR=0")[0] == "+CMGR: 0,,21"


def _split_surrogate_parts(recipient: str) -> list[str]:
    """Two SUBMIT parts whose UCS-2 text cuts 😀 between its two UTF-16 halves."""
    units = "ab😀cd".encode("utf-16-be")  # a b D83D DE00 c d
    halves = (units[:6], units[6:])  # ..., D83D | DE00, ...
    address = bytes([len(recipient) - 1, 0x91]) + bytes.fromhex(
        "".join(d[1] + d[0] for d in _pairs(recipient[1:] + "F" * (len(recipient) % 2 == 0)))
    )
    pdus = []
    for seq, body in enumerate(halves, 1):
        user_data = bytes([5, 0, 3, 0x42, 2, seq]) + body
        tpdu = bytes([0x41, 0]) + address + bytes([0, 0x08, len(user_data)]) + user_data
        pdus.append("00" + tpdu.hex().upper())
    return pdus


def _pairs(digits: str) -> list[str]:
    return [digits[i : i + 2] for i in range(0, len(digits), 2)]


def test_surrogate_pair_cut_between_parts_is_rejoined_and_answered() -> None:
    network = Network(clock=lambda: NOW)
    one, two = Wire(network=network), Wire(network=network, number=TWO)
    one.at("ATE0")
    answers = b""
    for pdu in _split_surrogate_parts(TWO):
        one.at(f"AT+CMGS={len(pdu) // 2 - 1}")
        answers += one.type(pdu.encode() + b"\x1a")
    assert answers == b"\r\n+CMGS: 0\r\n\r\nOK\r\n\r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert [m.text for m in two.modem.received] == ["ab😀cd"]
