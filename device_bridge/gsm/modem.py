"""The AT modem session: a sans-I/O state machine for one command channel.

The session turns commands into bytes for the modem and the modem's bytes into typed
events. It never reads a clock or waits: a driver writes :meth:`ModemSession.data_to_send`
to the port, feeds what it reads to :meth:`ModemSession.receive_data`, and arms one
timer of the kind :attr:`ModemSession.timer` names, calling :meth:`ModemSession.timeout`
when it fires.

Rules
-----
* One command is in flight at a time; more wait in a FIFO queue and are written as soon
  as the previous one ends. Every queued command ends in exactly one
  :class:`CommandDone`, in queue order.
* A command ends with its final result code (``OK``, ``ERROR``, ``+CMS ERROR: n``,
  ``+CME ERROR: n``, ``COMMAND NOT SUPPORT``, ``NO CARRIER``) or with a timeout.
* A command given a PDU (``AT+CMGS=<n>``) first waits for the ``> `` prompt, then writes
  the PDU and Ctrl-Z, then waits for the final result. If the prompt does not come in
  time, ESC is written so the modem leaves text-entry mode without sending anything.
* Unsolicited result codes (``+CMTI``, ``+CMT``, ``+CDS``, ``+CDSI``) become events in
  any state, even in the middle of a response, and are never taken as the response.
  A line counts as a response line when it carries the command's own prefix
  (``+CPIN: READY`` answers ``AT+CPIN?``) or is not a known URC; vendor noise (``RDY``,
  ``^RSSI:`` …) is dropped.
* An echoed command line (echo on, ``ATE1``) and an echoed PDU are ignored.
* After a timeout the modem may still answer late. The session *drains*: it discards
  lines up to the next final result (or the drain timer) before writing the next
  command, so a late ``OK`` is never credited to the wrong command.

States
------
=================  =======================  ====================  =========================
state              input                    next state            action
=================  =======================  ====================  =========================
idle               command queued           waiting for final     write ``cmd<CR>``
idle               PDU command queued       waiting for prompt    write ``cmd<CR>``
waiting for final  final result             idle                  CommandDone
waiting for final  timer                    draining              CommandDone(AtTimeout)
waiting for prompt ``>`` prompt             waiting for send      write ``pdu<Ctrl-Z>``
waiting for prompt final result             idle                  CommandDone (refused)
waiting for prompt timer                    draining              write ESC, PromptTimeout
waiting for send   final result             idle                  CommandDone
waiting for send   timer                    draining              CommandDone(AtTimeout)
draining           final result             idle                  (late answer dropped)
draining           timer                    idle                  —
=================  =======================  ====================  =========================
"""

from __future__ import annotations

import enum
import re
from collections import deque
from dataclasses import dataclass

from .at import (
    LINE_TOO_LONG,
    PROMPT,
    FinalResult,
    LineReader,
    clean_pdu,
    is_noise,
    parse_final,
    parse_urc,
    redact,
    response_prefix,
)
from .errors import AtError, AtTimeout, CmeError, CmsError, CommandRejected

__all__ = [
    "CTRL_Z",
    "ESC",
    "CommandDone",
    "Event",
    "IncomingPdu",
    "ModemEvent",
    "ModemSession",
    "NewMessage",
    "PromptTimeout",
    "State",
    "StatusReportIndex",
    "StatusReportPdu",
    "Timer",
    "Urc",
]

CTRL_Z = b"\x1a"
ESC = b"\x1b"
_HEX = re.compile(r"^[0-9A-Fa-f]+$")


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
class CommandDone:
    """A queued command ended.

    Attributes:
        command: The command as queued, redacted (no PIN).
        lines: Its information lines, without echo, URCs or the final result.
        ok: True when the final result was ``OK``.
        error: Why it failed (:class:`CmsError`, :class:`AtTimeout` …), else None.
        dropped_lines: Lines lost to the reader's length limit; the response may be
            incomplete when this is not 0.
    """

    command: str
    lines: tuple[str, ...]
    ok: bool
    error: AtError | None
    dropped_lines: int = 0


@dataclass(frozen=True)
class NewMessage:
    """``+CMTI``: a message was stored in ``storage`` at ``index``."""

    storage: str
    index: int


@dataclass(frozen=True)
class IncomingPdu:
    """``+CMT``: a message was handed over directly, not stored; ``pdu`` is hex."""

    pdu: str


@dataclass(frozen=True)
class StatusReportPdu:
    """``+CDS``: a delivery status report handed over directly; ``pdu`` is hex."""

    pdu: str


@dataclass(frozen=True)
class StatusReportIndex:
    """``+CDSI``: a delivery status report was stored in ``storage`` at ``index``."""

    storage: str
    index: int


@dataclass(frozen=True)
class Urc:
    """An unsolicited line the session does not understand, passed on for logging."""

    line: str


@dataclass(frozen=True)
class PromptTimeout:
    """No ``> `` prompt came for ``command``; ESC was written, nothing was sent."""

    command: str


#: What arrives unsolicited and matters to the bridge.
ModemEvent = NewMessage | IncomingPdu | StatusReportPdu | StatusReportIndex
#: Everything :meth:`ModemSession.events` can return.
Event = CommandDone | ModemEvent | Urc | PromptTimeout


# ---------------------------------------------------------------- states


class State(enum.Enum):
    """Where the command channel is; see the table in the module docstring."""

    IDLE = "idle"
    WAIT_FINAL = "waiting for final result"
    WAIT_PROMPT = "waiting for prompt"
    WAIT_SEND = "waiting for send result"
    DRAINING = "draining"


class Timer(enum.Enum):
    """Which timeout the driver should run while the session is in a state."""

    RESPONSE = "response"
    PROMPT = "prompt"
    SEND = "send"
    DRAIN = "drain"


_TIMERS = {
    State.WAIT_FINAL: Timer.RESPONSE,
    State.WAIT_PROMPT: Timer.PROMPT,
    State.WAIT_SEND: Timer.SEND,
    State.DRAINING: Timer.DRAIN,
}
# state on a final result, and on the timer; IDLE has neither
_ON_FINAL = {
    State.WAIT_FINAL: State.IDLE,
    State.WAIT_PROMPT: State.IDLE,
    State.WAIT_SEND: State.IDLE,
    State.DRAINING: State.IDLE,
}
_ON_TIMER = {
    State.WAIT_FINAL: State.DRAINING,
    State.WAIT_PROMPT: State.DRAINING,
    State.WAIT_SEND: State.DRAINING,
    State.DRAINING: State.IDLE,
}
_TIMEOUT_STAGE = {
    State.WAIT_FINAL: "response",
    State.WAIT_PROMPT: "prompt",
    State.WAIT_SEND: "send",
}


@dataclass
class _Command:
    text: str
    pdu: str | None
    lines: list[str]
    echo_seen: bool = False
    pdu_echo_seen: bool = False
    dropped: int = 0


# ---------------------------------------------------------------- session


class ModemSession:
    """One AT command channel, sans I/O.

    Args:
        max_line: The reader's line limit in bytes (see :class:`LineReader`).
    """

    def __init__(self, *, max_line: int = 4096) -> None:
        self._reader = LineReader(max_line)
        self._queue: deque[_Command] = deque()
        self._current: _Command | None = None
        self._state = State.IDLE
        self._out = bytearray()
        self._events: list[Event] = []
        self._pdu_urc: str | None = None  # "CMT"/"CDS" header seen, PDU line next
        self._generation = 0

    # -- verbs -------------------------------------------------------------

    def send_command(self, command: str, *, pdu: str | None = None) -> None:
        """Queue ``command`` (e.g. ``"AT+CMGL=4"``); with ``pdu``, send it at the prompt.

        Raises:
            ValueError: The command holds a line ending or control byte, or ``pdu`` is
                not hex.
        """
        if not command or any(char in command for char in "\r\n\x1a\x1b"):
            raise ValueError("an AT command must be one line without control bytes")
        if pdu is not None and not _HEX.match(pdu):
            raise ValueError("pdu must be a non-empty hex string")
        self._queue.append(_Command(command, pdu, []))
        self._start_next()

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the modem."""
        for token in self._reader.feed(data):
            if token is PROMPT:
                self._on_prompt()
            elif token is LINE_TOO_LONG:
                self._on_dropped_line()
            else:
                self._on_line(token)

    def timeout(self) -> None:
        """Tell the session the timer named by :attr:`timer` has fired."""
        state = self._state
        if state is State.IDLE:
            return
        command = self._current
        if state is State.WAIT_PROMPT:
            self._out += ESC
            assert command is not None
            self._events.append(PromptTimeout(redact(command.text)))
        if command is not None:
            stage = _TIMEOUT_STAGE[state]
            self._finish(AtTimeout(redact(command.text), stage=stage), ok=False)
        self._enter(_ON_TIMER[state])
        self._start_next()

    def data_to_send(self) -> bytes:
        """Return (and forget) the bytes to write to the modem."""
        data = bytes(self._out)
        self._out.clear()
        return data

    def events(self) -> list[Event]:
        """Return (and forget) the events produced so far, in order."""
        events, self._events = self._events, []
        return events

    @property
    def state(self) -> State:
        """The current :class:`State`."""
        return self._state

    @property
    def timer(self) -> tuple[Timer, int] | None:
        """The timer to run now and a generation number, or None when idle.

        A driver (re)arms its timer whenever the generation changes; a timer that
        fires for an old generation must not call :meth:`timeout`.
        """
        kind = _TIMERS.get(self._state)
        return None if kind is None else (kind, self._generation)

    @property
    def pending(self) -> int:
        """Commands queued or in flight."""
        return len(self._queue) + (self._current is not None)

    # -- transitions -------------------------------------------------------

    def _enter(self, state: State) -> None:
        self._state = state
        self._generation += 1

    def _start_next(self) -> None:
        if self._state is not State.IDLE or not self._queue:
            return
        command = self._current = self._queue.popleft()
        self._out += command.text.encode("ascii", "replace") + b"\r"
        self._enter(State.WAIT_PROMPT if command.pdu is not None else State.WAIT_FINAL)

    def _finish(self, error: AtError | None, *, ok: bool) -> None:
        command = self._current
        assert command is not None
        self._current = None
        self._events.append(
            CommandDone(redact(command.text), tuple(command.lines), ok, error, command.dropped)
        )

    def _on_prompt(self) -> None:
        if self._state is not State.WAIT_PROMPT:
            return  # a stray '>' (garbage, or a late prompt after ESC)
        assert self._current is not None and self._current.pdu is not None
        self._out += self._current.pdu.encode("ascii") + CTRL_Z
        self._enter(State.WAIT_SEND)

    def _on_final(self, result: FinalResult) -> None:
        if self._current is not None:
            error = None if result.ok else _error_for(result, redact(self._current.text))
            self._finish(error, ok=result.ok)
        self._enter(_ON_FINAL[self._state])
        self._start_next()

    def _on_dropped_line(self) -> None:
        if self._pdu_urc is not None:
            self._pdu_urc = None
        elif self._current is not None:
            self._current.dropped += 1

    # -- lines -------------------------------------------------------------

    def _on_line(self, line: str) -> None:
        if self._pdu_urc is not None and self._take_urc_pdu(line):
            return
        command = self._current
        if command is not None and self._is_echo(command, line):
            return
        result = parse_final(line)
        if result is not None:
            if self._state is not State.IDLE:
                self._on_final(result)
            return
        if command is not None and self._is_response(command, line):
            command.lines.append(line)
        elif not self._on_unsolicited(line) and self._state is not State.DRAINING:
            self._events.append(Urc(line))

    def _is_echo(self, command: _Command, line: str) -> bool:
        if not command.echo_seen and line.upper() == command.text.upper():
            command.echo_seen = True
            return True
        if (
            command.pdu is not None
            and not command.pdu_echo_seen
            and self._state is State.WAIT_SEND
            and line.rstrip("\x1a").strip().upper() == command.pdu.upper()
        ):
            command.pdu_echo_seen = True
            return True
        return False

    def _is_response(self, command: _Command, line: str) -> bool:
        prefix = response_prefix(command.text)
        if prefix is not None and line.upper().startswith(prefix):
            return True
        return parse_urc(line) is None and not is_noise(line)

    def _on_unsolicited(self, line: str) -> bool:
        """Emit the event an unsolicited line stands for; False if it is not one."""
        header = parse_urc(line)
        if header is None:
            return is_noise(line)
        if header.pdu_follows:
            self._pdu_urc = header.kind
        elif header.kind == "CMTI":
            self._events.append(NewMessage(header.storage or "", header.index or 0))
        else:
            self._events.append(StatusReportIndex(header.storage or "", header.index or 0))
        return True

    def _take_urc_pdu(self, line: str) -> bool:
        kind, self._pdu_urc = self._pdu_urc, None
        pdu = clean_pdu(line)
        if not _HEX.match(pdu):
            return False  # the PDU never came; treat the line on its own
        self._events.append(IncomingPdu(pdu) if kind == "CMT" else StatusReportPdu(pdu))
        return True


def _error_for(result: FinalResult, command: str) -> AtError:
    words = result.text.partition(":")[2].strip() or None  # "+CME ERROR: SIM busy"
    if result.kind == "CMS":
        return CmsError(result.code, command=command, text=words)
    if result.kind == "CME":
        return CmeError(result.code, command=command, text=words)
    return CommandRejected(result.text, command=command)
