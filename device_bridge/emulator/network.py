"""The emulated network: a message centre that routes SMS between virtual phones.

A SUBMIT from one virtual phone to another phone's number becomes a DELIVER in that
phone's storage (and a ``+CMTI``); to any other number it is recorded as sent to an
external party. Multi-part SUBMITs are reassembled first, as the user on the other end
would see them. Messages from outside (``inject``) can come from any number or name.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from device_bridge.gsm.errors import EncodeError
from device_bridge.gsm.gsm7 import fix_surrogates
from device_bridge.gsm.pdu import Submit

__all__ = ["Network", "ReceivedSms", "SentSms", "Subscriber", "normalise", "utc_now"]

logger = logging.getLogger("ferry.emulator")

#: The service centre address the virtual network reports.
SMSC = "+15550000000"
_MAX_PARTIAL = 256  # multi-part messages awaiting their other parts
_MAX_LOG = 10_000  # entries kept in any one log


def utc_now() -> datetime:
    """The default clock: aware UTC now."""
    return datetime.now(UTC)


def normalise(number: str) -> str:
    """A routing key: digits only, so ``+1 555 0100`` and ``15550100`` meet."""
    digits = "".join(char for char in number if char.isdigit())
    return digits or number.strip().lower()


@dataclass(frozen=True)
class ReceivedSms:
    """A message a phone received, as its user saw it (after reassembly)."""

    sender: str
    text: str
    timestamp: datetime


@dataclass(frozen=True)
class SentSms:
    """A message that left a phone; ``external`` when no virtual phone has the number."""

    sender: str
    recipient: str
    text: str
    timestamp: datetime
    external: bool


class Subscriber(Protocol):
    """What the network needs of a virtual phone."""

    number: str

    def deliver(self, sender: str, text: str, timestamp: datetime) -> None:
        """Receive a message (store it, raise a URC)."""

    def status_report(
        self, reference: int, recipient: str, submitted: datetime, discharged: datetime, status: int
    ) -> None:
        """Receive a delivery report for the submit with TP-MR ``reference``."""


class Network:
    """Routes messages between subscribers; everything happens at once, in order.

    Args:
        clock: Returns the current aware time, used for every timestamp.
    """

    def __init__(self, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.clock = clock
        self.smsc = SMSC
        self.external: list[SentSms] = []
        self.sent: dict[str, list[SentSms]] = {}
        self._subscribers: dict[str, Subscriber] = {}
        self._partial: OrderedDict[tuple[str, str, int, int], dict[int, str]] = OrderedDict()

    def attach(self, subscriber: Subscriber) -> None:
        """Give ``subscriber`` its number on the network."""
        self._subscribers[normalise(subscriber.number)] = subscriber
        self.sent.setdefault(subscriber.number, [])

    def subscriber(self, number: str) -> Subscriber | None:
        """The virtual phone with ``number``, if any."""
        return self._subscribers.get(normalise(number))

    def submit(self, sender: str, submit: Submit, reference: int) -> None:
        """Accept one SUBMIT part from ``sender``'s modem (TP-MR ``reference``)."""
        received_at = self.clock()
        text = self._reassemble(sender, submit)
        if text is not None:
            try:
                self.send_text(sender, submit.recipient, text)
            except EncodeError as exc:  # one bad message must not stop the network
                logger.warning("sms from %s to %s not delivered: %s", sender, submit.recipient, exc)
        if submit.request_status_report:
            origin = self.subscriber(sender)
            if origin is not None:
                origin.status_report(reference, submit.recipient, received_at, self.clock(), 0)

    def send_text(self, sender: str, recipient: str, text: str) -> SentSms:
        """Route a whole message from ``sender`` (a phone, or anyone outside)."""
        now = self.clock()
        target = self.subscriber(recipient)
        record = SentSms(sender, recipient, text, now, external=target is None)
        origin = self.subscriber(sender)
        if origin is not None:
            _append(self.sent.setdefault(origin.number, []), record)
        if target is None:
            _append(self.external, record)
            logger.info("sms from %s to external %s", sender, recipient)
        else:
            target.deliver(sender, text, now)
            logger.info("sms from %s to %s", sender, target.number)
        return record

    def _reassemble(self, sender: str, submit: Submit) -> str | None:
        concat = submit.concat
        if concat is None or concat.total <= 1:
            return submit.text
        key = (normalise(sender), normalise(submit.recipient), concat.ref, concat.total)
        parts = self._partial.setdefault(key, {})
        parts[concat.seq] = submit.text
        while len(self._partial) > _MAX_PARTIAL:
            self._partial.popitem(last=False)
        if len(parts) < concat.total:
            return None
        del self._partial[key]
        # Raw AT can cut a surrogate pair between two parts: join first, then pair up.
        return fix_surrogates("".join(parts[seq] for seq in sorted(parts)))


def _append(log: list, item: object) -> None:
    log.append(item)
    if len(log) > _MAX_LOG:
        del log[: len(log) - _MAX_LOG]
