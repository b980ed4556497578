"""The sans-I/O modem session, driven with literal bytes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_bridge.gsm.errors import AtTimeout, CmeError, CmsError, CommandRejected
from device_bridge.gsm.modem import (
    CommandDone,
    IncomingPdu,
    ModemSession,
    NewMessage,
    PromptTimeout,
    State,
    StatusReportIndex,
    StatusReportPdu,
    Timer,
    Urc,
)

PDU = "0011000B915155100100F20000AA05E8329BFD06"


def run(session: ModemSession, command: str, reply: bytes, *, pdu: str | None = None) -> list:
    session.send_command(command, pdu=pdu)
    session.data_to_send()
    session.receive_data(reply)
    return session.events()


def test_command_is_written_and_ends_with_ok() -> None:
    session = ModemSession()
    session.send_command("AT")
    assert session.data_to_send() == b"AT\r"
    assert session.state is State.WAIT_FINAL
    session.receive_data(b"\r\nOK\r\n")
    assert session.events() == [CommandDone("AT", (), True, None)]
    assert session.state is State.IDLE
    assert session.data_to_send() == b""


def test_information_lines_and_echo() -> None:
    events = run(ModemSession(), "AT+CSQ", b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n")
    assert events == [CommandDone("AT+CSQ", ("+CSQ: 20,99",), True, None)]


def test_echo_off_and_unprefixed_answers() -> None:
    events = run(ModemSession(), "AT+CGSN", b"\r\n351234567890123\r\n\r\nOK\r\n")
    assert events[0].lines == ("351234567890123",)


def test_commands_queue_and_go_one_at_a_time() -> None:
    session = ModemSession()
    session.send_command("ATE0")
    session.send_command("AT+CMEE=1")
    assert session.data_to_send() == b"ATE0\r"
    assert session.pending == 2
    session.receive_data(b"ATE0\r\r\nOK\r\n")
    assert session.data_to_send() == b"AT+CMEE=1\r"
    session.receive_data(b"\r\nOK\r\n")
    assert [e.command for e in session.events()] == ["ATE0", "AT+CMEE=1"]
    assert session.pending == 0


def test_urc_in_the_middle_of_a_response_is_emitted_not_taken() -> None:
    reply = b'\r\n+CMGL: 1,1,,5\r\n0011\r\n+CMTI: "SM",2\r\n+CMGL: 3,0,,5\r\n0022\r\n\r\nOK\r\n'
    events = run(ModemSession(), "AT+CMGL=4", reply)
    assert events == [
        NewMessage("SM", 2),
        CommandDone("AT+CMGL=4", ("+CMGL: 1,1,,5", "0011", "+CMGL: 3,0,,5", "0022"), True, None),
    ]


def test_cmt_urc_takes_the_next_line_as_its_pdu_even_mid_command() -> None:
    reply = b"\r\n+CSQ: 20,99\r\n+CMT: ,24\r\n07915155\r\n\r\nOK\r\n"
    events = run(ModemSession(), "AT+CSQ", reply)
    assert events == [IncomingPdu("07915155"), CommandDone("AT+CSQ", ("+CSQ: 20,99",), True, None)]


def test_cmt_pdu_with_a_stray_quote() -> None:
    session = ModemSession()
    session.receive_data(b'\r\n+CMT: ,24\r\n07915155"\r\n')
    assert session.events() == [IncomingPdu("07915155")]


def test_status_report_urcs() -> None:
    session = ModemSession()
    session.receive_data(b'\r\n+CDS: 25\r\n0006\r\n\r\n+CDSI: "SM",4\r\n')
    assert session.events() == [StatusReportPdu("0006"), StatusReportIndex("SM", 4)]


def test_cmt_without_hex_line_does_not_swallow_the_final_result() -> None:
    events = run(ModemSession(), "AT", b"\r\n+CMT: ,24\r\nOK\r\n")
    assert events == [CommandDone("AT", (), True, None)]


def test_cpin_ready_is_a_response_when_asked_and_noise_otherwise() -> None:
    session = ModemSession()
    events = run(session, "AT+CPIN?", b"\r\n+CPIN: READY\r\n\r\nOK\r\n")
    assert events[0].lines == ("+CPIN: READY",)
    events = run(session, "AT+CSQ", b"\r\n+CPIN: READY\r\nRDY\r\n^RSSI:17\r\nOK\r\n")
    assert events == [CommandDone("AT+CSQ", (), True, None)]


def test_unknown_unsolicited_line_is_passed_on_and_noise_dropped() -> None:
    session = ModemSession()
    session.receive_data(b"\r\nSMS DONE\r\n+CUSD: 0\r\nOK\r\n")
    assert session.events() == [Urc("+CUSD: 0")]


def test_cms_error_maps_to_a_named_error() -> None:
    (done,) = run(ModemSession(), "AT+CMGW=20", b"\r\n+CMS ERROR: 322\r\n")
    assert not done.ok
    assert isinstance(done.error, CmsError)
    assert (done.error.code, done.error.meaning) == (322, "memory full")
    assert not done.error.transient


def test_cme_error_numeric_and_verbose() -> None:
    session = ModemSession()
    (done,) = run(session, "AT+CIMI", b"\r\n+CME ERROR: 11\r\n")
    assert isinstance(done.error, CmeError)
    assert done.error.meaning == "SIM PIN required"
    (done,) = run(session, "AT+CIMI", b"\r\n+CME ERROR: SIM busy\r\n")
    assert isinstance(done.error, CmeError)
    assert (done.error.code, done.error.meaning) == (None, "SIM busy")


@pytest.mark.parametrize("final", [b"ERROR", b"COMMAND NOT SUPPORT"])
def test_plain_failures(final: bytes) -> None:
    (done,) = run(ModemSession(), "AT+CNUM", b"\r\n" + final + b"\r\n")
    assert type(done.error) is CommandRejected
    assert done.error.result == final.decode()


def test_pin_never_appears_in_events_or_errors() -> None:
    (done,) = run(ModemSession(), 'AT+CPIN="9876"', b"\r\n+CME ERROR: 16\r\n")
    assert "9876" not in done.command
    assert "9876" not in str(done.error)


def test_send_waits_for_prompt_then_writes_pdu_and_ctrl_z() -> None:
    session = ModemSession()
    session.send_command("AT+CMGS=19", pdu=PDU)
    assert session.data_to_send() == b"AT+CMGS=19\r"
    assert session.timer is not None and session.timer[0] is Timer.PROMPT
    session.receive_data(b"AT+CMGS=19\r\r\n> ")
    assert session.data_to_send() == PDU.encode() + b"\x1a"
    assert session.state is State.WAIT_SEND
    assert session.timer is not None and session.timer[0] is Timer.SEND
    session.receive_data(PDU.encode() + b"\x1a\r\n+CMGS: 42\r\n\r\nOK\r\n")  # echoed PDU
    assert session.events() == [CommandDone("AT+CMGS=19", ("+CMGS: 42",), True, None)]


def test_send_with_bare_prompt_and_echo_off() -> None:
    session = ModemSession()
    session.send_command("AT+CMGS=19", pdu=PDU)
    session.data_to_send()
    session.receive_data(b"\r\n>")
    assert session.data_to_send().endswith(b"\x1a")
    session.receive_data(b"\r\n+CMGS: 0\r\n\r\nOK\r\n")
    assert session.events()[0].lines == ("+CMGS: 0",)


def test_send_refused_before_the_prompt() -> None:
    (done,) = run(ModemSession(), "AT+CMGS=19", b"\r\n+CMS ERROR: 304\r\n", pdu=PDU)
    assert isinstance(done.error, CmsError)
    assert done.error.code == 304


def test_stray_prompt_is_ignored() -> None:
    events = run(ModemSession(), "AT", b"\r\n> \r\nOK\r\n")
    assert events == [CommandDone("AT", (), True, None)]


def test_prompt_timeout_writes_esc_and_drains_the_late_answer() -> None:
    session = ModemSession()
    session.send_command("AT+CMGS=19", pdu=PDU)
    session.send_command("AT+CSQ")
    session.data_to_send()
    session.timeout()
    assert session.data_to_send() == b"\x1b"
    first, done = session.events()
    assert first == PromptTimeout("AT+CMGS=19")
    assert isinstance(done.error, AtTimeout)
    assert (done.error.stage, done.error.may_have_sent) == ("prompt", False)
    assert session.state is State.DRAINING
    session.receive_data(b"\r\nOK\r\n")  # the modem acknowledging ESC
    assert session.data_to_send() == b"AT+CSQ\r"
    session.receive_data(b"\r\n+CSQ: 9,99\r\n\r\nOK\r\n")
    assert session.events() == [CommandDone("AT+CSQ", ("+CSQ: 9,99",), True, None)]


def test_timeout_after_ctrl_z_may_have_sent() -> None:
    session = ModemSession()
    session.send_command("AT+CMGS=19", pdu=PDU)
    session.receive_data(b"\r\n> ")
    session.timeout()
    (done,) = session.events()
    assert done.error.stage == "send"
    assert done.error.may_have_sent


def test_hung_modem_drain_ends_on_its_own_timer() -> None:
    session = ModemSession()
    session.send_command("AT+CMGL=4")
    session.send_command("AT")
    session.data_to_send()
    generation = session.timer[1]
    session.timeout()
    assert session.timer[0] is Timer.DRAIN
    assert session.timer[1] != generation
    assert session.data_to_send() == b""
    session.receive_data(b'\r\n+CMGL: 1,0,,5\r\n+CMTI: "SM",7\r\n')  # late, partial
    session.timeout()
    assert session.data_to_send() == b"AT\r"
    events = session.events()
    assert isinstance(events[0].error, AtTimeout)
    assert events[1] == NewMessage("SM", 7)  # URCs survive draining


def test_timeout_when_idle_does_nothing() -> None:
    session = ModemSession()
    assert session.timer is None
    session.timeout()
    assert session.events() == []


def test_over_long_line_is_counted_on_the_command() -> None:
    session = ModemSession(max_line=32)
    (done,) = run(session, "AT+CMGL=4", b"\r\n+CMGL: 1,0,,5\r\n" + b"0" * 64 + b"\r\nOK\r\n")
    assert done.ok
    assert done.dropped_lines == 1
    assert done.lines == ("+CMGL: 1,0,,5",)


@pytest.mark.parametrize(
    ("command", "pdu"), [("", None), ("AT\rAT", None), ("AT+CMGS=5", "xyz"), ("AT\x1a", None)]
)
def test_bad_commands_are_local_misuse(command: str, pdu: str | None) -> None:
    with pytest.raises(ValueError):
        ModemSession().send_command(command, pdu=pdu)


_REPLY = (
    b'AT+CMGL=4\r\r\n+CMGL: 1,1,,5\r\n0011\r\n\r\n+CMTI: "SM",2\r\n^RSSI:17\r\n'
    b"+CMT: ,3\r\n0022\r\n+CMGL: 3,0,,5\r\n0033\r\n\r\nOK\r\n"
)


@given(st.lists(st.integers(0, len(_REPLY)), max_size=10))
def test_events_do_not_depend_on_how_bytes_arrive(cuts: list[int]) -> None:
    session = ModemSession()
    session.send_command("AT+CMGL=4")
    bounds = [0, *sorted(cuts), len(_REPLY)]
    for start, end in itertools.pairwise(bounds):
        session.receive_data(_REPLY[start:end])
    assert session.events() == [
        NewMessage("SM", 2),
        IncomingPdu("0022"),
        CommandDone("AT+CMGL=4", ("+CMGL: 1,1,,5", "0011", "+CMGL: 3,0,,5", "0033"), True, None),
    ]
