"""A GSM/LTE modem on a serial port (or pty), driven with AT commands in PDU mode.

The driver owns the I/O and the clock; :class:`~device_bridge.gsm.modem.ModemSession`
owns the protocol. One read task feeds the session, one timer per session state turns
into :meth:`ModemSession.timeout`, and each command's caller awaits a future resolved by
the matching ``CommandDone`` (the session completes commands in FIFO order).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import replace

import serial
import serial_asyncio_fast

from device_bridge.gsm import at
from device_bridge.gsm.errors import (
    AtError,
    AtTimeout,
    CmeError,
    CmsError,
    CommandRejected,
    ModemUnavailable,
)
from device_bridge.gsm.modem import CommandDone, ModemEvent, ModemSession, PromptTimeout, Timer, Urc
from device_bridge.gsm.pdu import Submit, encode_submit

from .base import Contact, ModemStatus, StoredMessage, decode_stored

__all__ = ["SerialModem"]

logger = logging.getLogger("ferry.bridge.modem")

# New-message indications, best first: +CMTI for stored SMS and +CDS status reports;
# then stored status reports (+CDSI). Delivery reports matter more than the buffering
# mode, so both report styles are tried with mode 1 (old firmware) before giving up on
# reports altogether.
CNMI_CHOICES = (
    "2,1,0,1,0",
    "2,1,0,2,0",
    "1,1,0,1,0",
    "1,1,0,2,0",
    "2,1,0,0,0",
    "1,1,0,0,0",
)
_SERIAL_ERRORS = (serial.SerialException, OSError, ConnectionError)
_PROBE_TRIES = 3
_MAX_EVENTS = 10_000  # unsolicited events kept for next_event()
_PHONEBOOK_CHUNK = 50  # slots asked for per AT+CPBR, keeping each answer small


class SerialModem:
    """An AT modem behind a serial port; implements :class:`drivers.base.Modem`.

    Args:
        port: Device path (``/dev/ttyUSB2``, a pty) or a pyserial URL.
        baudrate: Line speed.
        pin: SIM PIN, used only when the SIM asks for it.
        command_timeout: Seconds to wait for an ordinary command's final result.
        send_timeout: Seconds to wait for ``+CMGS`` after the PDU was sent.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 115200,
        pin: str | None = None,
        command_timeout: float = 10.0,
        send_timeout: float = 60.0,
    ) -> None:
        self.port = port
        self.baudrate = baudrate
        self.command_timeout = command_timeout
        self.send_timeout = send_timeout
        self.cnmi: str | None = None  # the +CNMI setting the modem accepted
        self.storage: str | None = None  # the message memory in use
        self._pin = pin
        self._log = logger.getChild(port.rsplit("/", 1)[-1].replace(".", "_"))
        self._session = ModemSession()
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._waiters: deque[tuple[asyncio.Future[CommandDone], float]] = deque()
        self._events: asyncio.Queue[ModemEvent | AtError] = asyncio.Queue()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_generation = -1
        self._failure: AtError | None = None
        self._concat_ref = random.randrange(256)
        # Held while AT+CSCS may differ from the default, so no other string query
        # (operator name, own number) is answered in the phonebook's character set.
        self._charset_lock = asyncio.Lock()

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        """Open the port and prepare the modem (see :meth:`_initialise`).

        Raises:
            ModemUnavailable: The port cannot be opened or stops answering.
            CmeError: The SIM wants a PIN (none given, code 11) or a PUK (code 12).
            AtError: A required setting (echo off, PDU mode) was refused.
        """
        if self._writer is not None:
            await self.close()
        try:
            reader, self._writer = await serial_asyncio_fast.open_serial_connection(
                url=self.port, baudrate=self.baudrate
            )
        except _SERIAL_ERRORS as exc:
            raise ModemUnavailable(f"cannot open {self.port}: {exc}") from exc
        self._session, self._failure = ModemSession(), None
        self._events = asyncio.Queue()
        self._timer_generation = -1
        self._reader_task = asyncio.create_task(self._read_loop(reader))
        try:
            await self._initialise()
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the port; pending and later calls raise ``ModemUnavailable``."""
        self._fail(ModemUnavailable(f"{self.port} closed"))
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
            self._reader_task = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()
            with contextlib.suppress(*_SERIAL_ERRORS, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _initialise(self) -> None:
        # ESC leaves a "> " prompt a crashed run may have left open; harmless otherwise.
        self._write(b"\x1b")
        await self._probe()
        await self._check("ATE0")
        await self._attempt("AT+CMEE=1")  # numeric errors where supported
        await self._unlock_sim()
        await self._check("AT+CMGF=0")
        await self._choose_storage()
        await self._enable_notifications()
        self._log.info("ready (storage %s, cnmi %s)", self.storage, self.cnmi)

    async def _probe(self) -> None:
        for _ in range(_PROBE_TRIES):
            done = await self._command("AT", limit=min(self.command_timeout, 1.0))
            if done.ok:
                return
        if isinstance(done.error, AtTimeout):
            raise ModemUnavailable(f"no answer to AT on {self.port}") from done.error
        raise done.error or AtError("AT refused", command="AT")

    async def _unlock_sim(self) -> None:
        state = await self._sim_state()
        if state == "SIM PIN":
            if self._pin is None:
                raise CmeError(11, command="AT+CPIN?")
            await self._check(f'AT+CPIN="{self._pin}"')
            for _ in range(10):  # the SIM takes a moment to become READY
                state = await self._sim_state()
                if state == "READY":
                    break
                await asyncio.sleep(0.2)
        if state != "READY":
            raise CmeError(
                12 if state == "SIM PUK" else None,
                command="AT+CPIN?",
                text=f"SIM not ready: {state}",
            )

    async def _sim_state(self) -> str:
        done = await self._check("AT+CPIN?")
        for line in done.lines:
            if line.upper().startswith("+CPIN:"):
                return at.unquote(line[6:].strip()).upper()
        return "READY"  # some firmware answers a bare OK once unlocked

    async def _choose_storage(self) -> None:
        support = at.parse_cpms_support(await self._optional("AT+CPMS=?"))
        offered = support.read if support else ()
        memory = next((m for m in ("SM", "ME", "MT") if m in offered), None)
        if memory is None:
            return  # keep the modem's default
        # the one-memory form when e.g. ME is readable but not a receive memory
        if await self._attempt(f'AT+CPMS="{memory}","{memory}","{memory}"') or await self._attempt(
            f'AT+CPMS="{memory}"'
        ):
            self.storage = memory

    async def _enable_notifications(self) -> None:
        for setting in CNMI_CHOICES:
            if await self._attempt(f"AT+CNMI={setting}"):
                self.cnmi = setting
                return
        self._log.warning("modem accepts no +CNMI setting; new messages need polling")

    # -- the Modem interface ------------------------------------------------

    async def list_messages(self) -> list[StoredMessage]:
        """Every stored message (``AT+CMGL=4``), undecodable ones with ``error`` set."""
        done = await self._check("AT+CMGL=4")
        if done.dropped_lines:
            self._log.warning("AT+CMGL: %d over-long line(s) dropped", done.dropped_lines)
        return [_stored(e.index, e.status, e.pdu) for e in at.parse_cmgl(done.lines)]

    async def read_message(self, index: int) -> StoredMessage | None:
        """The message in slot ``index`` (``AT+CMGR``), or None when the slot is empty."""
        done = await self._command(f"AT+CMGR={int(index)}")
        if isinstance(done.error, CmsError) and done.error.code == 321:
            return None  # invalid index: what many modems say for an empty slot
        _raise_for(done)
        entry = at.parse_cmgr(done.lines)
        return None if entry is None else _stored(index, entry.status, entry.pdu)

    async def delete_message(self, index: int) -> None:
        """Free slot ``index`` (``AT+CMGD``)."""
        await self._check(f"AT+CMGD={int(index)}")

    async def send_sms(
        self, number: str, text: str, *, request_status_report: bool = False
    ) -> list[int]:
        """Send ``text`` to ``number``, one ``AT+CMGS`` per part.

        Returns:
            Each part's TP-Message-Reference (-1 where the modem did not report one).

        Raises:
            CmsError: The network or modem refused a part; ``parts_sent`` lists the
                references of the parts that went out before it.
            AtTimeout: No confirmation in time; see ``may_have_sent``.
            EncodeError: The number or text cannot be encoded.
        """
        self._concat_ref = (self._concat_ref + 1) % 256
        parts = encode_submit(
            number, text, request_status_report=request_status_report, concat_ref=self._concat_ref
        )
        references: list[int] = []
        for part in parts:
            try:
                done = await self._check(f"AT+CMGS={part.tpdu_length}", pdu=part.hex)
            except ModemUnavailable as exc:  # shared by every caller: give ours its own
                error = ModemUnavailable(exc.message, command=exc.command)
                error.parts_sent = tuple(references)
                raise error from exc
            except AtError as exc:
                exc.parts_sent = tuple(references)
                raise
            reference = at.parse_cmgs(done.lines)
            references.append(-1 if reference is None else reference)
        self._log.info("sent %d part(s)", len(parts))
        return references

    async def next_event(self) -> ModemEvent:
        """Wait for the next new-message or status-report event."""
        if self._failure is not None and self._events.empty():
            raise self._failure
        event = await self._events.get()
        if isinstance(event, AtError):
            self._events.put_nowait(event)  # wake any other waiter too
            raise event
        return event

    async def status(self) -> ModemStatus:
        """Signal (``AT+CSQ``), operator (``AT+COPS?``), own number (``AT+CNUM``)."""
        async with self._charset_lock:
            signal = at.parse_csq(await self._optional("AT+CSQ"))
            await self._attempt("AT+COPS=3,0")  # ask for the long alphanumeric name
            operator = at.parse_cops(await self._optional("AT+COPS?"))
            own_number = at.parse_cnum(await self._optional("AT+CNUM"))
        return ModemStatus(signal, operator, own_number)

    async def read_contacts(self) -> list[Contact]:
        """The SIM phonebook (``AT+CPBS="SM"``, ``AT+CPBR``), read in chunks of slots.

        Names are read in UCS2 when the modem offers it, so "Zoë" or "李雷" survive; the
        character set in use before is restored afterwards. Without UCS2 the current
        character set is decoded as well as it can be (characters the modem cannot
        express arrive as it sends them, usually ``?``).

        Raises:
            CmeError: No SIM phonebook (or the SIM is locked).
            AtError: The modem stopped answering.
        """
        async with self._charset_lock:
            return await self._read_phonebook()

    async def _read_phonebook(self) -> list[Contact]:
        await self._check('AT+CPBS="SM"')
        slots = at.parse_cpbr_support((await self._check("AT+CPBR=?")).lines)
        if slots is None:
            raise AtError("the modem did not say which phonebook slots exist", command="AT+CPBR=?")
        previous = at.parse_cscs(await self._optional("AT+CSCS?")) or "GSM"
        offered = at.parse_cscs_support(await self._optional("AT+CSCS=?"))
        charset = previous
        if "UCS2" in offered and previous != "UCS2" and await self._attempt('AT+CSCS="UCS2"'):
            charset = "UCS2"
        try:
            entries: list[at.CpbrEntry] = []
            for first in range(slots.first, slots.last + 1, _PHONEBOOK_CHUNK):
                last = min(first + _PHONEBOOK_CHUNK - 1, slots.last)
                entries += at.parse_cpbr(await self._phonebook_lines(first, last), charset)
        finally:
            if charset != previous:
                with contextlib.suppress(AtError):
                    await self._attempt(f'AT+CSCS="{previous}"')
        return [Contact(e.text, e.number) for e in sorted(entries, key=lambda e: e.index)]

    async def _phonebook_lines(self, first: int, last: int) -> tuple[str, ...]:
        done = await self._command(f"AT+CPBR={first},{last}")
        if isinstance(done.error, CmeError) and done.error.code == 22:
            return ()  # "not found": how some firmware says the slots are all empty
        _raise_for(done)
        return done.lines

    # -- plumbing ------------------------------------------------------------

    async def _check(self, command: str, *, pdu: str | None = None) -> CommandDone:
        done = await self._command(command, pdu=pdu)
        _raise_for(done)
        return done

    async def _attempt(self, command: str) -> bool:
        """Run a command the modem may refuse: False when refused; timeouts still raise."""
        return await self._tolerant(command) is not None

    async def _optional(self, command: str) -> tuple[str, ...]:
        """A query the modem may not support: its lines, or none when refused."""
        done = await self._tolerant(command)
        return () if done is None else done.lines

    async def _tolerant(self, command: str) -> CommandDone | None:
        done = await self._command(command)
        if isinstance(done.error, CommandRejected):
            return None
        _raise_for(done)
        return done

    async def _command(
        self, command: str, *, pdu: str | None = None, limit: float | None = None
    ) -> CommandDone:
        if self._failure is not None:
            raise self._failure
        future: asyncio.Future[CommandDone] = asyncio.get_running_loop().create_future()
        self._waiters.append((future, limit or self.command_timeout))
        self._session.send_command(command, pdu=pdu)
        self._log.debug("> %s", at.redact(command))
        self._flush()
        return await future

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        try:
            while data := await reader.read(4096):
                self._session.receive_data(data)
                self._flush()
            self._fail(ModemUnavailable(f"{self.port}: end of input"))
        except _SERIAL_ERRORS as exc:
            self._fail(ModemUnavailable(f"{self.port}: {exc}"))
        except Exception:  # a bug must not leave callers waiting forever
            self._log.exception("modem reader crashed")
            self._fail(ModemUnavailable(f"{self.port}: internal error"))

    def _flush(self) -> None:
        """Write what the session wants written, dispatch its events, re-arm the timer."""
        data = self._session.data_to_send()
        if data:
            self._write(data)
        for event in self._session.events():
            self._dispatch(event)
        self._arm_timer()

    def _write(self, data: bytes) -> None:
        if self._writer is None:
            return
        try:
            self._writer.write(data)
        except _SERIAL_ERRORS as exc:
            self._fail(ModemUnavailable(f"{self.port}: {exc}"))

    def _dispatch(self, event: object) -> None:
        if isinstance(event, CommandDone):
            if not self._waiters:
                return  # the caller went away with the port (close during a command)
            future, _ = self._waiters.popleft()
            self._log.debug(
                "< %s: %s (%d lines)",
                event.command,
                "OK" if event.ok else event.error,
                len(event.lines),
            )
            if not future.done():
                future.set_result(event)
        elif isinstance(event, Urc):
            self._log.debug("< unsolicited %.40s", event.line)
        elif isinstance(event, PromptTimeout):
            self._log.warning("no prompt for %s; aborted with ESC", event.command)
        elif self._events.qsize() < _MAX_EVENTS:
            self._events.put_nowait(event)  # type: ignore[arg-type]
        else:  # nobody is listening; stored messages can still be listed later
            self._log.warning("event queue full; dropped %s", type(event).__name__)

    def _arm_timer(self) -> None:
        timer = self._session.timer
        generation = -1 if timer is None else timer[1]
        if generation == self._timer_generation:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_generation = generation
        if timer is not None:
            delay = self._delay(timer[0])
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer, generation)

    def _delay(self, kind: Timer) -> float:
        if kind is Timer.SEND:
            return self.send_timeout
        if kind is Timer.DRAIN:
            return min(self.command_timeout, 2.0)
        return self._waiters[0][1] if self._waiters else self.command_timeout

    def _on_timer(self, generation: int) -> None:
        timer = self._session.timer
        if timer is not None and timer[1] == generation:
            self._log.warning("timeout (%s)", timer[0].value)
            self._session.timeout()
            self._flush()

    def _fail(self, error: AtError) -> None:
        if self._failure is not None:
            return
        self._failure = error
        if self._timer is not None:
            self._timer.cancel()
        while self._waiters:
            future, _ = self._waiters.popleft()
            if not future.done():
                future.set_exception(error)
        self._events.put_nowait(error)


def _stored(index: int, status: int | None, pdu: str) -> StoredMessage:
    """Decode a listed or read slot. Firmware that leaves ``<stat>`` empty gets the
    status the PDU implies: a SUBMIT is a stored draft (2), anything else received and
    unread (0), so the bridge takes it in instead of skipping the slot."""
    message = decode_stored(index, 0 if status is None else status, pdu)
    if status is None and isinstance(message.sms, Submit):
        return replace(message, status=2)
    return message


def _raise_for(done: CommandDone) -> None:
    if not done.ok:
        raise done.error or AtError("command failed", command=done.command)
