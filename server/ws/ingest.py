"""Group commit of one bridge's uploads.

A bridge keeps several uploads in flight. The socket reader only checks each one and
queues it here; this task takes everything queued at that moment and stores it in one
transaction, then acknowledges the highest item (acks are cumulative) and hints the
hub once. Under load, four uploads of 100 cost one commit instead of four; at light
load a lone upload is committed as soon as it arrives::

    reader ─ Upload ─▶ judge each item ─▶ queue (bounded: a full queue stops the reader,
                                           so TCP pushes back on the bridge)
    ingester ─▶ take all queued (same repair flag, ≤ MAX_GROUP items) ─▶ one commit
             ─▶ hub hint ─▶ Ack(upto=highest n, conflicts, rejected)

Refused items are stored as placeholders in the same commit, so "handled" in the Ack
means the same for every item: the bridge may forget it (or keep it in quarantine).

Acknowledge only after commit: an upload still queued when the link drops is simply
not acknowledged, and the bridge sends it again after reconnecting. At shutdown
:meth:`Ingester.finish` stops taking uploads and waits until what it took is stored and
acknowledged; later uploads are left to the bridge, which sends them again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from aiohttp import WSCloseCode, web

from protocol.messages import Ack
from server.hub import ChangesHint
from server.metrics import METRICS
from server.services import Services
from server.ws.feed import FEED_PAGE
from server.ws.judge import Verdicts
from server.ws.registry import DeviceConnection

#: Uploads waiting for the ingester before the reader stops reading.
MAX_QUEUED = 8
#: Most items stored in one transaction.
MAX_GROUP = 2000


@dataclass(frozen=True)
class Pending:
    """One judged upload: every item's position and what storage takes (placeholders
    for refused items included, in the same order as ``positions``)."""

    positions: list[int]
    verdicts: Verdicts
    repair: bool
    #: When it arrived (``time.perf_counter``), for the ack latency.
    received: float = field(default_factory=time.perf_counter)


class Ingester:
    """Stores the uploads of one device connection; run :meth:`run` as a task."""

    def __init__(self, svc: Services, conn: DeviceConnection, ws: web.WebSocketResponse):
        self._svc = svc
        self._conn = conn
        self._ws = ws
        self._queue: asyncio.Queue[Pending] = asyncio.Queue(MAX_QUEUED)
        # An upload taken from the queue that did not fit the previous group.
        self._carry: Pending | None = None
        # The account's cursor epoch was rotated for this connection's repair.
        self._rotated = False
        # Set while nothing taken is waiting to be stored or acknowledged.
        self._idle = asyncio.Event()
        self._taking = True
        METRICS.ingesters.add(self)

    async def put(self, upload: Pending) -> None:
        """Queue a checked upload; waits while the queue is full. After :meth:`finish`
        it is dropped: not acknowledged, so the bridge sends it again."""
        if self._taking:
            self._idle.clear()
            await self._queue.put(upload)

    def queued(self) -> int:
        """Uploads taken and not stored yet (metrics)."""
        return self._queue.qsize() + (self._carry is not None)

    async def finish(self) -> None:
        """Stop taking uploads; return once everything taken is stored and acknowledged
        (or storing ended)."""
        self._taking = False
        await self._idle.wait()

    async def run(self) -> None:
        try:
            while True:
                await self._store(await self._group())
        except asyncio.CancelledError:
            raise
        except Exception:
            # As an unhandled error in a handler would: logged here, nothing to the
            # bridge but a close code. Unacknowledged uploads come again on reconnect.
            self._conn.log.exception("storing an upload failed")
            await self._ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"server error")
        finally:
            # Nothing more will be stored: what is queued is the bridge's to send again.
            self._taking, self._carry = False, None
            while not self._queue.empty():
                self._queue.get_nowait()
            self._idle.set()

    async def _group(self) -> list[Pending]:
        if self._carry is None and self._queue.empty():
            self._idle.set()
        first = self._carry or await self._queue.get()
        self._carry = None
        group, size = [first], len(first.positions)
        while not self._queue.empty():
            upload = self._queue.get_nowait()
            if upload.repair != first.repair or size + len(upload.positions) > MAX_GROUP:
                self._carry = upload
                break
            group.append(upload)
            size += len(upload.positions)
        return group

    async def _store(self, group: list[Pending]) -> None:
        svc, conn = self._svc, self._conn
        account_id = conn.device.account_id
        upto = max(n for upload in group for n in upload.positions)
        batch = [item for upload in group for item in upload.verdicts.batch]
        # Tabs are open: have the writer hand over what changed (built from what it
        # wrote, not read back), so they get it without another read. Per group commit,
        # whatever its size: reading back a bulk upload's messages for the feed cost
        # more than storing them.
        watched = svc.fanout.following(account_id)
        result = await svc.conversations.ingest_inbound(
            account_id,
            conn.device.id,
            batch,
            svc.clock.now(),
            repair=group[0].repair,
            upto=upto,
            feed_page=FEED_PAGE if watched else None,
            # A repair that has to add or complete something met a server that forgot
            # what it had acknowledged (a restored backup): browser cursors from before
            # must resync, not resume. Once per connection; a repair that changes
            # nothing (as after pairing again) changes nothing for browsers.
            rotate=group[0].repair and not self._rotated,
        )
        self._rotated = self._rotated or result.rotated
        # A code SMS reaching this account's own SIM proves the number (see
        # server.auth.verification); done before the acknowledgement.
        await svc.verification.auto_verify(account_id, (i.body for i in batch))
        # Committed: browsers may hear of it before the bridge does.
        for page in result.changes:
            if not page.resync:
                svc.feed.prime(account_id, page)
        if result.seq is not None:
            svc.hub.publish(account_id, ChangesHint(result.seq))
            # Let the fan-out write to the tabs before the acknowledgement is framed:
            # the user is waiting for the message, the bridge only for its journal.
            await asyncio.sleep(0)
        clashing = set(result.conflicts)
        if clashing:
            conn.log.warning("%d upload item(s) conflict with stored messages", len(clashing))
        rejected = [r for upload in group for r in upload.verdicts.rejected]
        if rejected:
            conn.log.warning(
                "refused %d upload item(s): %s",
                len(rejected),
                ", ".join(sorted({r.reason for r in rejected})),
            )
        await conn.send(
            Ack(
                upto=upto,
                conflicts=[
                    n
                    for upload in group
                    for n, item in zip(upload.positions, upload.verdicts.batch, strict=True)
                    if (item.line_id, item.key) in clashing
                ],
                rejected=rejected,
            )
        )
        METRICS.acked(
            (u.received for u in group),
            time.perf_counter(),
            len(batch),
            len(rejected),
            len(clashing),
        )
