"""The bridge: modem ⇄ journal ⇄ server link.

Four tasks share one journal::

    modem loop   open ─▶ drain storage ─▶ events (+CMTI/+CMT) ─▶ journal ─▶ AT+CMGD
                 (storage re-polled every ``poll_interval``; the modem's state asked every
                 ``status_interval``; a modem that stops answering is reported "not
                 responding" at once and reopened with backoff)
                 a phone that decodes its own inbox (``DecodedInbox``, Android) is polled
                 instead: new messages ─▶ fitted to the protocol limits ─▶ journal, with
                 the phone-store cursor in the same transaction; nothing is deleted
    uploader     journal ─▶ Upload batches, capped by count and by encoded size (a few in
                 flight) ─▶ Ack ─▶ journal moves them to the history (items the server
                 refused one by one to the quarantine)
    sender       SendSms ─▶ journal "accepted" ─▶ "sending" ─▶ AT+CMGS ─▶ "sent"/"failed"
                 status reports (+CDS/+CDSI) per part ─▶ "delivered"/"failed"
    link         websocket; on (re)connect: re-upload unacknowledged, re-report statuses;
                 if the server remembers fewer acks than we received (restored from a
                 backup), re-send the acknowledged history as a repair, whole, before
                 any live upload

Nothing is deleted from the SIM before the journal has it on disk; nothing leaves the
journal before the server acknowledged it; a send interrupted by a crash is ``unknown``,
never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import cast

from device_bridge.attachments import fit
from device_bridge.backoff import Backoff
from device_bridge.credentials import Identity
from device_bridge.drivers.base import (
    DecodedInbox,
    InboxChanged,
    IncomingPdu,
    Modem,
    NewMessage,
    Received,
    SendUpdate,
    StatusReportIndex,
    StatusReportPdu,
    StoredMessage,
    decode_stored,
)
from device_bridge.gsm.errors import (
    AtError,
    AtTimeout,
    CommandRejected,
    GsmError,
    ModemUnavailable,
)
from device_bridge.gsm.pdu import Deliver, StatusReport
from device_bridge.importing import ImportTracker
from device_bridge.journal import InboundItem, Journal, Part
from device_bridge.link import Link
from device_bridge.outcomes import explain
from protocol.codec import DEFAULT_MAX_SIZE, encode
from protocol.messages import (
    MAX_ATTACHMENT_BYTES,
    MAX_SENDER,
    Ack,
    ContactEntry,
    Contacts,
    InboundSms,
    ModemInfo,
    PhoneSendStatus,
    SendOutcome,
    SendSms,
    SendStatus,
    ServerToDevice,
    StatusAck,
    Upload,
    Welcome,
)
from protocol.phone import InvalidNumber, to_e164

log = logging.getLogger("ferry.bridge")

UPLOAD_BATCH = 100
#: Uploads sent before the oldest is acknowledged. The server commits what has queued up
#: in one transaction, so a deeper window means larger commits while a backlog drains
#: (measured: 8 rather than 4 took a 20,000-message backlog from 1.24 s to 1.13 s).
UPLOADS_IN_FLIGHT = 8
#: Largest encoded upload frame (the server's device frame limit, less a margin).
UPLOAD_FRAME_BYTES = DEFAULT_MAX_SIZE - 1024
#: Messages taken from a polled phone per journal round.
POLL_BATCH = 200
#: Most messages the journal holds unacknowledged while a phone's history is imported.
IMPORT_AHEAD = 2 * UPLOAD_BATCH * UPLOADS_IN_FLIGHT
_PRUNE_EVERY = timedelta(hours=1)


def pdu_key(pdu: str) -> str:
    """Stable idempotency key of a stored SMS: the same PDU read twice is the same SMS."""
    return hashlib.sha256(pdu.strip().upper().encode()).hexdigest()[:32]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Bridge:
    def __init__(
        self,
        modem: Modem,
        journal: Journal,
        identity: Identity,
        *,
        clock: Callable[[], datetime] = _utc_now,
        allow_insecure: bool = False,
        poll_interval: float = 60.0,
        status_interval: float = 15.0,
        part_max_age: timedelta = timedelta(hours=24),
        modem_backoff: Backoff | None = None,
        link_backoff: Backoff | None = None,
        delivery_reports: bool = True,
        history_age: timedelta = timedelta(days=30),
    ) -> None:
        self.modem = modem
        self.journal = journal
        self.link = Link(
            identity,
            self._on_message,
            self._on_connect,
            allow_insecure=allow_insecure,
            backoff=link_backoff,
        )
        self._now = clock
        self._poll = poll_interval
        self._status_every = status_interval
        #: What the server was last told about the modem (told again on reconnect).
        self._modem_info = ModemInfo(state="starting")
        self._part_max_age = part_max_age
        self._modem_backoff = modem_backoff or Backoff(base=1.0, cap=60.0)
        self._upload_wakeup = asyncio.Event()
        self._acked = asyncio.Condition()
        self._sent_upto = 0
        self._acked_upto = 0
        #: Set on connect when the server remembers fewer acks than the journal: the
        #: uploader re-sends the history after this position before anything else.
        self._repair_after: int | None = None
        self._send_queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self.modem_ready = asyncio.Event()
        self._contacts: list[ContactEntry] | None = None
        self.delivery_reports = delivery_reports
        self._history_age = history_age
        self._pruned_at: datetime | None = None
        self._import = ImportTracker(journal, self.link.send, clock)

    async def run(self) -> None:
        """Run until cancelled."""
        for outbox_id in self.journal.recover():
            log.warning("send %d was interrupted by a restart; reported as unknown", outbox_id)
        for item in self.journal.outbound_in("accepted"):
            self._enqueue(item.outbox_id)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.link.run(), name="link")
            tg.create_task(self._modem_loop(), name="modem")
            tg.create_task(self._uploader(), name="uploader")
            tg.create_task(self._sender(), name="sender")

    # ------------------------------------------------------------------ modem

    async def _modem_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                await self.modem.open()
                self._modem_backoff.reset()
                self.modem_ready.set()
                log.info("modem ready")
                if isinstance(self.modem, DecodedInbox):
                    await self._import.start(self.modem)
                await self._drain_storage()
                await self._report_modem()
                await self._read_contacts()
                drained = loop.time()
                while True:
                    due = min(self._status_every, drained + self._poll - loop.time())
                    try:
                        # asyncio.timeout, not wait_for (which can swallow a cancellation
                        # on Python 3.11).
                        async with asyncio.timeout(max(due, 0)):
                            event = await self.modem.next_event()
                    except TimeoutError:
                        if loop.time() >= drained + self._poll:
                            # A missed +CMTI must not strand a message on the SIM.
                            await self._drain_storage()
                            drained = loop.time()
                        # Asking for the signal also proves the modem still answers.
                        await self._report_modem()
                        continue
                    await self._on_modem_event(event)
            except GsmError as exc:
                log.warning("modem problem: %s", exc)
                if isinstance(exc, AtTimeout | ModemUnavailable):
                    await self._tell_modem(ModemInfo(state="not_responding"))
            finally:
                self.modem_ready.clear()
                with contextlib.suppress(Exception):
                    await self.modem.close()
            await asyncio.sleep(self._modem_backoff.next_delay())

    async def _on_modem_event(self, event: object) -> None:
        if isinstance(event, NewMessage | StatusReportIndex):
            stored = await self.modem.read_message(event.index)
            if stored is not None:
                await self._keep(stored)
        elif isinstance(event, IncomingPdu | StatusReportPdu):
            await self._consume(decode_stored(-1, 0, event.pdu))
        elif isinstance(event, InboxChanged) and isinstance(self.modem, DecodedInbox):
            await self._take_decoded(self.modem)
        elif isinstance(event, SendUpdate):
            item = self.journal.record_report(
                event.reference, event.recipient, event.outcome, self._now()
            )
            if item is not None:
                await self._report(item.outbox_id)
        else:
            log.debug("ignoring modem event %s", type(event).__name__)

    async def _drain_storage(self) -> None:
        for stored in await self.modem.list_messages():
            # Stored outgoing drafts (status 2/3) are the user's; leave them alone.
            if stored.status in (0, 1) or stored.sms is None:
                await self._keep(stored)
        if isinstance(self.modem, DecodedInbox):
            await self._take_decoded(self.modem)
        if self.journal.expire_parts(self._now(), self._part_max_age):
            self._upload_wakeup.set()

    async def _take_decoded(self, inbox: DecodedInbox) -> None:
        """Journal what the phone has that the journal has not, a batch at a time.

        A first import of a long history is paced by the uploads: the journal runs at
        most :data:`IMPORT_AHEAD` messages ahead of the server's acknowledgements, so a
        message arriving meanwhile (read first in every round) waits behind that much at
        most, never behind the whole history.
        """
        while True:
            async with self._acked:
                await self._acked.wait_for(lambda: self.journal.inbound_count() < IMPORT_AHEAD)
            batch = await inbox.poll_new(self.journal, POLL_BATCH)
            for received in batch:
                self._journal_received(received)
            await self._import.batch(len(batch))
            if not batch:
                return

    def _journal_received(self, r: Received) -> None:
        if r.direction == "out" and r.stamp is not None:
            own = self.journal.own_send(r.key, r.sender, r.body, r.sent_at)
            if own is not None:
                # The phone's copy of a message this bridge sent: the server has it.
                log.info("%s is the phone's copy of outbox %d", r.source, own)
                self.journal.take_rows(r.source, [(r.position, r.stamp)])
                return
        fitted = fit(r.body, r.attachments, too_large=r.unread)
        if fitted.dropped:
            log.warning(
                "%s: left out %d attachment(s) over the protocol limits (%s)",
                r.key,
                len(fitted.dropped),
                ", ".join(f"{mime} {size} B" for mime, size in fitted.dropped),
            )
        sender = r.sender.strip()[:MAX_SENDER] or "unknown"
        if self.journal.add_received(
            r.key, sender, fitted.body, r.sent_at, fitted.attachments,
            source=r.source, position=r.position, stamp=r.stamp,
            direction=r.direction, status=r.status,
        ):  # fmt: skip
            self._upload_wakeup.set()

    async def _keep(self, stored: StoredMessage) -> None:
        """Journal durably, then free the SIM slot."""
        if await self._consume(stored):
            await self.modem.delete_message(stored.index)

    async def _consume(self, stored: StoredMessage) -> bool:
        """Take in one PDU; True when it is safely recorded (its slot may be freed)."""
        if isinstance(stored.sms, StatusReport):
            await self._on_status_report(stored.sms)
            return True
        return self._journal_sms(stored)

    async def _on_status_report(self, report: StatusReport) -> None:
        item = self.journal.record_report(
            report.message_reference, report.recipient, report.outcome, self._now()
        )
        if item is None:
            log.info("status report (%s) changed nothing", report.outcome)
            return
        await self._report(item.outbox_id)

    def _journal_sms(self, stored: StoredMessage) -> bool:
        key = pdu_key(stored.pdu)
        sms = stored.sms
        if sms is None:
            self.journal.add_undecodable(
                key, stored.pdu, stored.error or "undecodable", self._now()
            )
            log.warning("kept an undecodable PDU in the journal (%s)", stored.error)
            return True
        if not isinstance(sms, Deliver):
            log.info("leaving a non-deliver PDU (%s) in storage", type(sms).__name__)
            return False
        if sms.concat is not None and sms.concat.total > 1:
            part = Part(
                key=key,
                sender=sms.sender,
                ref=sms.concat.ref,
                total=sms.concat.total,
                seq=sms.concat.seq,
                body=sms.text,
                sent_at=sms.timestamp.isoformat(),
            )
            if self.journal.add_part(part, self._now()) is not None:
                self._upload_wakeup.set()
            return True
        if self.journal.add_inbound(
            key, sms.sender, sms.text, sms.timestamp, incomplete=sms.incomplete
        ):
            self._upload_wakeup.set()
        return True

    async def _read_contacts(self) -> None:
        """Take the phonebook from the SIM and hand it to the server as a snapshot."""
        try:
            found = await self.modem.read_contacts()
        except AtError as exc:
            log.info("phonebook unavailable: %s", exc)
            return
        self._contacts = [ContactEntry(name=c.name, number=_normalise(c.number)) for c in found]
        await self._send_contacts()

    async def _send_contacts(self) -> None:
        if self._contacts is not None and await self.link.send(Contacts(entries=self._contacts)):
            log.info("> phonebook snapshot of %d entries", len(self._contacts))

    async def _report_modem(self) -> None:
        """Ask the modem for its state and tell the server.

        Raises:
            AtTimeout, ModemUnavailable: the modem stopped answering (the modem loop
                reopens it); a refused query only leaves its field unknown.
        """
        try:
            st = await self.modem.status()
        except CommandRejected as exc:
            log.info("modem status unavailable: %s", exc)
            return
        await self._tell_modem(
            ModemInfo(signal_dbm=st.signal_dbm, operator=st.operator, own_number=st.own_number)
        )

    async def _tell_modem(self, info: ModemInfo) -> None:
        self._modem_info = info
        await self.link.send(info)

    # ----------------------------------------------------------------- upload

    async def _uploader(self) -> None:
        while True:
            await self._upload_wakeup.wait()
            self._upload_wakeup.clear()
            while self.link.connected.is_set():
                if self._repair_after is not None:
                    # The repair goes first, whole: a live upload between its frames would
                    # raise the server's acknowledged mark past the rest of the repair,
                    # and a reconnect then would not send it again.
                    after, self._repair_after = self._repair_after, None
                    await self._repair(after)
                    continue
                async with self._acked:
                    await self._acked.wait_for(
                        lambda: (
                            self._sent_upto - self._acked_upto < UPLOAD_BATCH * UPLOADS_IN_FLIGHT
                        )
                    )
                if self._repair_after is not None:
                    continue  # reconnected while waiting: the new connection's repair first
                items = self.journal.pending_inbound(
                    after=self._sent_upto, limit=UPLOAD_BATCH, max_bytes=MAX_ATTACHMENT_BYTES
                )
                if not items:
                    break
                wired = _frame(items)
                if not await self.link.send(Upload(items=wired)):
                    break
                self._sent_upto = wired[-1].n

    # ------------------------------------------------------------------- send

    def _enqueue(self, outbox_id: int) -> None:
        if outbox_id not in self._queued:
            self._queued.add(outbox_id)
            self._send_queue.put_nowait(outbox_id)

    async def _sender(self) -> None:
        while True:
            outbox_id = await self._send_queue.get()
            try:
                await self._send_one(outbox_id)
            finally:
                self._queued.discard(outbox_id)

    async def _send_one(self, outbox_id: int) -> None:
        item = self.journal.outbound(outbox_id)
        if item is None or item.state != "accepted":
            return
        await self.modem_ready.wait()
        log.info("> sending outbox %d", outbox_id)
        self.journal.mark_left(outbox_id, self._now())
        self.journal.set_outbound(outbox_id, "sending")
        await self._report(outbox_id)
        try:
            refs = await self.modem.send_sms(
                item.recipient, item.body, request_status_report=self.delivery_reports
            )
        except GsmError as exc:
            # A plain sentence for the user, the modem's words one click away.
            outcome = explain(exc)
            self.journal.set_outbound(
                outbox_id,
                outcome.state,
                refs=list(getattr(exc, "parts_sent", ())),
                error=outcome.error,
                detail=outcome.detail,
            )
            if isinstance(exc, AtError) and not isinstance(exc, CommandRejected):
                # A modem that stopped answering loses its +CMTI notices too: reopen it
                # now (the modem loop sees the closed port), not at the next poll.
                await self._tell_modem(ModemInfo(state="not_responding"))
                await self._reset_modem()
        else:
            self.journal.mark_sent(outbox_id, refs, self._now())
        await self._report(outbox_id)

    async def _reset_modem(self) -> None:
        self.modem_ready.clear()
        with contextlib.suppress(Exception):
            await self.modem.close()

    async def _report(self, outbox_id: int) -> None:
        item = self.journal.outbound(outbox_id)
        if item is not None:
            await self.link.send(
                SendStatus(
                    outbox_id=outbox_id,
                    # The journal only ever stores SendOutcome values.
                    status=cast(SendOutcome, item.state),
                    references=item.refs,
                    error=item.error,
                    error_detail=item.detail,
                )
            )

    # ------------------------------------------------------------------ link

    async def _on_connect(self, welcome: Welcome) -> None:
        # Decided before any await: the uploader sends the repair before any live upload.
        behind = welcome.acked_upto < self.journal.acked_n()
        self._repair_after = welcome.acked_upto if behind else None
        async with self._acked:
            self._sent_upto = self._acked_upto = 0
            self._acked.notify_all()
        self._upload_wakeup.set()
        for item in self.journal.unreported():
            await self._report(item.outbox_id)
        await self.link.send(self._modem_info)
        await self._import.resend()
        await self._send_contacts()

    async def _repair(self, after: int) -> None:
        """The server forgot acknowledged messages (restored from a backup): re-send them.

        The server only adds or completes by key, so a repair can never remove anything.
        """
        log.warning("server remembers acks up to %d only; sending a repair", after)
        self.journal.prune_history(self._now(), self._history_age)
        while items := self.journal.history_after(after, UPLOAD_BATCH, MAX_ATTACHMENT_BYTES):
            wired = _frame(items)
            if not await self.link.send(Upload(items=wired, repair=True)):
                return
            after = wired[-1].n

    async def _on_message(self, message: ServerToDevice) -> None:
        match message:
            case Ack(upto=upto, conflicts=clashes, rejected=rejected):
                if clashes:
                    # The server kept its copy and recorded the clash; nothing to retry.
                    log.warning("server reports %d conflicting upload(s)", len(clashes))
                if rejected:
                    # Kept for the user (``ferry bridge status``), never uploaded again.
                    log.warning(
                        "server refused %d message(s) (%s); kept in the quarantine",
                        len(rejected),
                        ", ".join(sorted({r.reason for r in rejected})),
                    )
                refused = {r.n: r.reason for r in rejected}
                self.journal.ack_inbound(upto, self._now(), refused)
                self._prune_history()
                async with self._acked:
                    self._acked_upto = max(self._acked_upto, upto)
                    self._acked.notify_all()
                self._upload_wakeup.set()
                await self._import.acked()
            case SendSms(outbox_id=oid, to=to, body=body):
                item = self.journal.accept_outbound(oid, to, body)
                log.info("< outbox %d offered; journal has it as %s", oid, item.state)
                await self._report(oid)
                if item.state == "accepted":
                    self._enqueue(oid)
            case StatusAck(outbox_id=oid, status=status):
                self.journal.mark_reported(oid, status)
                self.journal.forget_finished(self._now())
            case _:
                log.debug("ignoring %s from server", type(message).__name__)

    def _prune_history(self) -> None:
        """Age the history out now and then: it holds attachments too."""
        now = self._now()
        if self._pruned_at is None or now - self._pruned_at >= _PRUNE_EVERY:
            self._pruned_at = now
            self.journal.prune_history(now, self._history_age)


def _normalise(number: str) -> str:
    """E.164 when the number says its country; as stored otherwise (national numbers)."""
    try:
        return to_e164(number)
    except InvalidNumber:
        return number.strip()


def _wire(item: InboundItem) -> InboundSms:
    return InboundSms(
        n=item.n,
        key=item.key,
        sender=item.sender,
        body=item.body,
        sent_at=item.sent_at,
        incomplete=item.incomplete,
        attachments=list(item.attachments),
        direction="out" if item.direction == "out" else "in",
        status=_phone_status(item.status),
    )


def _phone_status(status: str | None) -> PhoneSendStatus | None:
    return status if status in ("sent", "delivered", "failed") else None  # type: ignore[return-value]


def _frame(items: list[InboundItem], budget: int = UPLOAD_FRAME_BYTES) -> list[InboundSms]:
    """The longest prefix of ``items`` whose upload frame stays within ``budget`` bytes.

    Always at least one item: every journaled item fits a frame on its own, because
    decoded messages are fitted to the protocol limits before they are journaled.
    """
    size = len(encode(Upload(items=[], repair=True)))
    wired: list[InboundSms] = []
    for item in items:
        wire = _wire(item)
        size += len(encode(wire)) + 1  # and a comma
        if wired and size > budget:
            break
        wired.append(wire)
    return wired
