"""The AT interpreter of one virtual phone: what a GSM modem's firmware does.

Bytes from the host go to :meth:`EmulatedModem.receive`; answers and URCs leave through
the ``write`` callable given to :meth:`EmulatedModem.attach`. Timing (a slow send
confirmation) goes through the injected ``schedule(delay, callback)``.

The interpreter follows V.250 framing (``ATV1``: every line is ``<CR><LF>text<CR><LF>``,
commands end with ``<CR>``, characters are echoed as typed while ``ATE1``) and the PDU
mode of TS 27.005. Text mode (``AT+CMGF=1``) is accepted but the SMS commands refuse it.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from device_bridge.gsm.errors import PduError
from device_bridge.gsm.pdu import (
    EncodedPdu,
    Submit,
    decode_pdu,
    encode_deliver,
    encode_status_report,
)

from .commands import Final, ints
from .huawei import HuaweiCommands
from .network import Network, ReceivedSms
from .phonebook import Phonebook, PhonebookCommands
from .profiles import PROFILES, Faults, Profile
from .radio import RadioCommands
from .storage import CAPACITY, MessageStore, Slot

__all__ = ["EmulatedModem"]

logger = logging.getLogger("ferry.emulator")

_MAX_COMMAND = 1024  # longest command line accepted
_MAX_PDU_HEX = 2 * (12 + 176)  # SMSC field + longest TPDU, in hex digits
_GARBAGE = b"\xff\x00~\xfe"
_CTRL_Z, _ESC, _CR, _LF, _BS = 0x1A, 0x1B, 0x0D, 0x0A, 0x08
_SME_BUSY = 0x21  # TP-ST: temporary error, the service centre is still trying
_EXTENDED = re.compile(r"([+^$*#%][A-Z0-9]+)(=\?|\?|=[^;]*)?;?", re.IGNORECASE)
_BASIC = re.compile(r"S\d+(?:\?|=\d*)|&?[A-Z]\d*", re.IGNORECASE)
_SMS_COMMANDS = frozenset({"+CMGL", "+CMGR", "+CMGD", "+CMGS", "+CMGW", "+CPMS", "+CNMI"})
_SIM_COMMANDS = _SMS_COMMANDS | {"+CNUM", "+CIMI", "+CPBS", "+CPBR", "+CCID", "+CSMS"}


@dataclass
class _Entry:
    """Text entry after ``AT+CMGS=<n>`` / ``AT+CMGW=<n>``: hex until Ctrl-Z."""

    command: str
    length: int
    status: int
    hex: bytearray


class EmulatedModem(RadioCommands, HuaweiCommands, PhonebookCommands):
    """One virtual phone's modem.

    Args:
        number: The phone's own number (``+E164``).
        network: Where sent messages go.
        profile: Vendor habits (see :mod:`.profiles`).
        schedule: ``schedule(delay, callback)`` runs ``callback`` later; by default at once.
    """

    def __init__(
        self,
        number: str,
        network: Network,
        *,
        profile: Profile = PROFILES["generic"],
        schedule: Callable[[float, Callable[[], None]], object] | None = None,
    ) -> None:
        self.number = number
        self.network = network
        self.profile = profile
        self.faults = Faults()
        self.received: list[ReceivedSms] = []
        self.memories = {
            name: MessageStore(CAPACITY.get(name, 30), profile.index_base)
            for name in profile.memories
        }
        self.phonebook = Phonebook()
        self._schedule = schedule or (lambda _delay, callback: callback())
        self._write: Callable[[bytes], None] = lambda _data: None
        self._out = bytearray()
        self._line = bytearray()
        self._entry: _Entry | None = None
        self._busy = False  # a send confirmation is still to come
        self._answering = False  # a command line is being answered right now
        self._held: list[str] = []  # URCs waiting for the link to be free
        self._waiting: deque[EncodedPdu] = deque()  # deliveries waiting for a free slot
        self._next_reference = 0
        self._next_concat = 0  # concatenation reference of the next long delivery
        self._unacknowledged = 0  # +CMT sent under AT+CSMS=1, awaiting AT+CNMA
        self._commands_seen = 0
        self._power_up()

    def _power_up(self) -> None:
        self.echo = self.profile.echo
        self.cmee = 0
        self.cmgf = 0
        self.cnmi = (0, 0, 0, 0, 0)
        self.cscs = "GSM"
        self.smsc = self.network.smsc
        self.cfun = 1
        self.sim_unlocked = False
        self.storage = [self.profile.memories[0]] * 3
        self._booted = False
        self._power_up_radio()
        self._power_up_huawei()

    # -- the host side -----------------------------------------------------

    def attach(self, write: Callable[[bytes], None]) -> None:
        """Send everything the modem says to ``write`` from now on."""
        self._write = write

    def receive(self, data: bytes) -> None:
        """Bytes typed by the host."""
        if self.faults.hang:
            return
        for byte in data:
            if self._entry is not None:
                self._entry_byte(byte)
            else:
                self._command_byte(byte)
        self._flush()

    def _flush(self) -> None:
        if self._out:
            data, self._out = bytes(self._out), bytearray()
            self._write(data)

    def _echo(self, byte: int) -> None:
        if self.echo:
            self._out.append(byte)

    def _command_byte(self, byte: int) -> None:
        if byte == _CR:
            self._echo(byte)
            line, self._line = self._line.decode("ascii", "replace").strip(), bytearray()
            if line[:2].upper() == "AT":
                self._run_line(line)
        elif byte == _BS:
            self._echo(byte)
            del self._line[-1:]
        elif byte not in (_LF, _ESC, _CTRL_Z, 0):
            self._echo(byte)
            if len(self._line) < _MAX_COMMAND:
                self._line.append(byte)

    def _entry_byte(self, byte: int) -> None:
        entry = self._entry
        assert entry is not None
        if byte == _ESC:
            self._entry = None
            self._respond([], "OK")
        elif byte == _CTRL_Z:
            self._entry = None
            self._finish_entry(entry, entry.hex.decode("ascii", "replace"))
        elif byte not in (_CR, _LF):
            self._echo(byte)
            if len(entry.hex) <= _MAX_PDU_HEX:
                entry.hex.append(byte)

    # -- answering ---------------------------------------------------------

    def _respond(self, lines: list[str], final: str) -> None:
        """Frame an answer: info lines, then the final result; held URCs after it."""
        if self.faults.drop_responses > 0:
            self.faults.drop_responses -= 1
            return
        if self.faults.garbage:
            self._out += _GARBAGE
        if not self._booted:
            self._booted = True
            self._put_each(self.profile.boot_urcs)
        self._commands_seen += 1
        if self.profile.noise and self.curc and self._commands_seen % self.profile.noise_every == 0:
            self._put_each(self.profile.noise)
        if self.faults.urc_mid_response and self._held:
            lines = [*lines[:1], *self._held, *lines[1:]]
            self._held = []
        self._put(lines)
        self._put([final])
        self._release_held()

    def _put(self, lines: tuple[str, ...] | list[str]) -> None:
        """One block: ``<CR><LF>line<CR><LF>line…<CR><LF>``, as firmware frames answers."""
        if lines:
            self._out += b"\r\n" + "\r\n".join(lines).encode("utf-8") + b"\r\n"

    def _put_each(self, lines: tuple[str, ...] | list[str]) -> None:
        for line in lines:
            self._put([line])

    def _urc(self, lines: list[str]) -> None:
        """Say something unsolicited, or hold it while the link is in use."""
        if self._entry is not None or self._busy or self._answering or self.faults.urc_mid_response:
            self._held.extend(lines)
            return
        if not self.faults.hang:
            self._put(lines)
            self._flush()

    def _release_held(self) -> None:
        if (
            self._held
            and self._entry is None
            and not self._busy
            and not self.faults.urc_mid_response
        ):
            held, self._held = self._held, []
            self._put(held)

    # -- command lines -------------------------------------------------------

    def _run_line(self, line: str) -> None:
        self._answering = True
        try:
            self._run_commands(line[2:])
        finally:
            self._answering = False
        self._release_held()

    def _run_commands(self, rest: str) -> None:
        lines: list[str] = []
        try:
            while rest:
                rest, produced = self._run_one(rest)
                if produced is None:  # text entry; the answer comes after Ctrl-Z
                    if not self.faults.no_prompt:
                        self._out += self.profile.prompt
                    return
                lines += produced
        except Final as final:
            self._respond(lines, final.line)
            return
        self._respond(lines, "OK")

    def _run_one(self, rest: str) -> tuple[str, list[str] | None]:
        rest = rest.lstrip(" ;")
        if not rest:
            return "", []
        match = _EXTENDED.match(rest)
        if match:
            name, suffix = match.group(1).upper(), match.group(2) or ""
            return rest[match.end() :], self._extended(name, suffix)
        match = _BASIC.match(rest)
        if match is None:
            raise Final("ERROR")
        return rest[match.end() :], self._basic(match.group(0).upper())

    def _basic(self, command: str) -> list[str]:
        if command[0] == "E":
            self.echo = command != "E0" and command != "E"
        elif command in ("Z", "Z0", "&F", "&F0"):
            self._power_up()
            self._booted = True
        elif command in ("I", "I0"):
            return [
                self.profile.manufacturer,
                self.profile.model,
                f"Revision: {self.profile.revision}",
            ]
        elif command[0] not in "VQX&S":
            raise Final(self.profile.unsupported)
        return []

    def _extended(self, name: str, suffix: str) -> list[str] | None:
        prefix = {"+": "_at_", "^": "_hw_" if self.profile.huawei_commands else None}
        kind = prefix.get(name[0])
        handler = getattr(self, kind + name[1:].lower(), None) if kind else None
        if handler is None or (name == "+CNUM" and not self.profile.has_cnum):
            raise Final(self.profile.unsupported)
        if name in _SIM_COMMANDS and self.sim_locked:
            raise Final("+CMS ERROR: 311") if name in _SMS_COMMANDS else self._cme(11)
        if name in _SMS_COMMANDS - {"+CPMS", "+CNMI"} and self.cmgf != 0:
            raise Final("+CMS ERROR: 302")  # text mode is not emulated
        if suffix == "=?":
            return handler("test", "")
        if suffix == "?":
            return handler("read", "")
        if suffix.startswith("="):
            return handler("set", suffix[1:].strip())
        return handler("exec", "")

    # -- messages ------------------------------------------------------------

    def _store(self, which: int) -> MessageStore:
        return self.memories[self.storage[which]]

    def _at_cmgl(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ["+CMGL: (0-4)"]
        wanted = (ints(args) or [0])[0]
        if wanted not in range(5):
            raise Final("+CMS ERROR: 302")
        lines: list[str] = []
        for index, slot in self._store(0).items():
            if wanted in (4, slot.status):
                lines += [
                    f"+CMGL: {index},{self._stat_field(slot)},,{slot.length}",
                    self._pdu_line(slot.pdu),
                ]
                slot.status = 1 if slot.status == 0 else slot.status
        return lines

    def _stat_field(self, slot: Slot) -> str:
        return "" if self.faults.blank_status else str(slot.status)

    def _pdu_line(self, pdu: str) -> str:
        return pdu + '"' if self.faults.pdu_quote else pdu

    def _at_cmgr(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return []
        index = (ints(args) or [-1])[0]
        store = self._store(0)
        if not store.valid(index):
            raise Final("+CMS ERROR: 321")
        slot = store.get(index)
        if slot is None:
            if self.profile.empty_read_error:
                raise Final("+CMS ERROR: 321")
            return []
        lines = [f"+CMGR: {self._stat_field(slot)},,{slot.length}", self._pdu_line(slot.pdu)]
        slot.status = 1 if slot.status == 0 else slot.status
        return lines

    def _at_cmgd(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return [f"+CMGD: ({','.join(str(i) for i, _ in self._store(0).items())}),(0-4)"]
        values = [*ints(args), 0][:2]
        store = self._store(0)
        if not store.valid(values[0]) and values[1] == 0:
            raise Final("+CMS ERROR: 321")
        index, flag = values
        if flag == 0:
            store.delete(index)
        for other, slot in store.items():
            if flag and _deleted_by_flag(slot.status, flag):
                store.delete(other)
        self._schedule(0.0, self._retry_waiting)
        return []

    def _at_cnma(self, mode: str, args: str) -> list[str]:
        if mode == "test":
            return ["+CNMA: (0-2)"]
        if not self._unacknowledged:
            raise Final("+CMS ERROR: 340")  # no acknowledgement expected
        self._unacknowledged -= 1
        return []

    def _at_cmgs(self, mode: str, args: str) -> list[str] | None:
        return self._start_entry("+CMGS", mode, args)

    def _at_cmgw(self, mode: str, args: str) -> list[str] | None:
        return self._start_entry("+CMGW", mode, args)

    def _start_entry(self, command: str, mode: str, args: str) -> list[str] | None:
        if mode == "test":
            return []
        values = ints(args)
        if mode != "set" or not values or not 7 <= values[0] <= 176:
            raise Final("+CMS ERROR: 304")
        self._entry = _Entry(command, values[0], values[1] if len(values) > 1 else 2, bytearray())
        return None

    def _finish_entry(self, entry: _Entry, pdu: str) -> None:
        if self.faults.no_prompt and entry.command == "+CMGS":
            return  # the host never saw a prompt; whatever it typed goes nowhere
        try:
            submit = _check_submit(pdu, entry.length)
        except Final as final:
            self._respond([], final.line)
            return
        if entry.command == "+CMGW":
            self._write_stored(entry, pdu)
        else:
            self._send(submit)

    def _write_stored(self, entry: _Entry, pdu: str) -> None:
        index = self._store(1).add(Slot(entry.status, pdu.upper(), entry.length))
        if index is None:
            self._respond([], "+CMS ERROR: 322")
        else:
            self._respond([f"+CMGW: {index}"], "OK")

    def _send(self, submit: Submit) -> None:
        if self.faults.send_error is not None:
            self._respond([], f"+CMS ERROR: {self.faults.send_error}")
            return
        if self.cfun != 1:
            self._respond([], "+CMS ERROR: 331")
            return
        reference, self._next_reference = self._next_reference, (self._next_reference + 1) % 256
        logger.debug("%s submits part (mr %d)", self.number, reference)

        def confirm() -> None:
            self._busy = False
            self._respond([f"+CMGS: {reference}"], "OK")
            self._flush()  # the answer is the sender's, whatever the network does next
            self.network.submit(self.number, submit, reference)
            self._flush()

        if self.faults.send_delay > 0:
            self._busy = True
            self._schedule(self.faults.send_delay, confirm)
        else:
            confirm()

    # -- the network side ----------------------------------------------------

    def deliver(self, sender: str, text: str, timestamp: datetime, *, ref_bits: int = 8) -> None:
        """Receive a message from the network: store its parts and announce them.

        A long message's parts share the next concatenation reference of this phone
        (``ref_bits`` 8 or 16 wide), as a service centre numbers them.

        Raises:
            EncodeError: The text cannot be carried (more than 255 parts, a bad sender).
        """
        reference = self._next_concat % (1 << ref_bits)
        parts = encode_deliver(
            sender,
            text,
            timestamp,
            smsc=self.network.smsc,
            concat_ref=reference,
            concat_ref_bits=ref_bits,
        )
        if len(parts) > 1:
            self._next_concat += 1
        self.received.append(ReceivedSms(sender, text, timestamp))
        del self.received[:-10_000]
        for part in parts:
            self._deliver_part(part)
        self._flush()

    def _deliver_part(self, part: EncodedPdu) -> None:
        mt = self.cnmi[1]
        if mt == 2:
            self._unacknowledged += self.csms == 1
            self._urc([f"+CMT: ,{part.tpdu_length}", self._pdu_line(part.hex)])
            return
        receive = self.memories[self.storage[2]]
        index = receive.add(Slot(0, part.hex, part.tpdu_length))
        if index is None:
            self._waiting.append(part)  # the network retries once there is room
            logger.info("%s: memory full, delivery waits", self.number)
        elif mt in (1, 3):
            self._urc([f'+CMTI: "{self.storage[2]}",{index}'])

    def _retry_waiting(self) -> None:
        while (
            self._waiting
            and self.memories[self.storage[2]].used < self.memories[self.storage[2]].capacity
        ):
            self._deliver_part(self._waiting.popleft())
        self._flush()

    def status_report(
        self, reference: int, recipient: str, submitted: datetime, discharged: datetime, status: int
    ) -> None:
        """Receive the delivery report for our submit ``reference``.

        The ``report_*`` faults change what the network says and when: a "still trying"
        report first, a delay, or another final status.
        """
        faults = self.faults
        final = status if faults.report_status is None else faults.report_status
        if faults.report_trying:
            self._status_report(reference, recipient, submitted, discharged, _SME_BUSY)
        if faults.report_delay <= 0:
            self._status_report(reference, recipient, submitted, discharged, final)
            return
        self._schedule(
            faults.report_delay,
            lambda: self._status_report(
                reference, recipient, submitted, self.network.clock(), final
            ),
        )

    def _status_report(
        self, reference: int, recipient: str, submitted: datetime, discharged: datetime, status: int
    ) -> None:
        report = encode_status_report(
            reference, recipient, submitted, discharged, status, smsc=self.network.smsc
        )
        ds = self.cnmi[3]
        if ds == 1:
            self._urc([f"+CDS: {report.tpdu_length}", report.hex])
        elif ds == 2:
            index = self.memories[self.storage[2]].add(Slot(0, report.hex, report.tpdu_length))
            if index is not None:
                self._urc([f'+CDSI: "{self.storage[2]}",{index}'])
        self._flush()

    def update_faults(self, changes: dict[str, object]) -> None:
        """Change faults (see :class:`Faults`); locking the SIM forgets a given PIN."""
        self.faults.update(changes)
        if changes.get("pin_locked"):
            self.sim_unlocked = False
        self._release_held()
        self._flush()


def _check_submit(pdu: str, length: int) -> Submit:
    """The SUBMIT in ``pdu``; ``+CMS ERROR: 304`` when it is not one of ``length`` octets."""
    try:
        smsc_octets = int(pdu[:2], 16) + 1
        message = decode_pdu(pdu)
    except (ValueError, PduError):
        raise Final("+CMS ERROR: 304") from None
    if not isinstance(message, Submit) or len(pdu) // 2 - smsc_octets != length:
        raise Final("+CMS ERROR: 304")
    return message


def _deleted_by_flag(status: int, flag: int) -> bool:
    """TS 27.005 ``AT+CMGD`` <delflag>: 1 read, 2 read+sent, 3 read+sent+unsent, 4 all."""
    return {1: status == 1, 2: status in (1, 3), 3: status != 0, 4: True}.get(flag, False)
