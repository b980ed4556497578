"""What a node does on its own when hints between nodes may have been missed.

``poll`` runs every 2 s while Redis is lost and every 30 s while it is not (a node killed
between a commit and its hint must not leave followers waiting for the next change);
``resync`` runs whenever the node (re)subscribes. Both read the database, the truth.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Connection

from protocol.messages import LinkClose
from server.hub import ChangesHint, DevicesHint
from server.log import server_logger
from server.storage.runner import runner
from server.storage.schema import accounts, devices

if TYPE_CHECKING:
    from server.services import Services

#: Ids per query.
_CHUNK = 500


async def poll(svc: Services) -> None:
    """Hint the accounts followed on this node whose seq moved past what was announced;
    while Redis is lost, also wake every outbox pump and close revoked bridges."""
    followed = svc.fanout.accounts()
    if followed:
        for account_id, seq in (await runner(svc.engine).read(_seqs, followed)).items():
            if seq > svc.hub.latest(account_id):
                svc.hub.deliver(account_id, ChangesHint(seq))
    if not svc.hub.live:
        for conn in svc.registry.all():
            conn.outbox_wakeup.set()
        await _close_revoked(svc)


async def resync(svc: Services) -> None:
    """After (re)subscribing: views of bridges on other nodes may be stale; sends,
    changes and revocations may have been missed."""
    svc.device_views.clear()
    for account_id in svc.fanout.accounts():
        svc.hub.deliver(account_id, DevicesHint())
    for conn in svc.registry.all():
        svc.registry.announce(conn)
        conn.outbox_wakeup.set()
    await _close_revoked(svc)
    await poll(svc)


async def _close_revoked(svc: Services) -> None:
    held = svc.registry.all()
    if not held:
        return
    gone = await runner(svc.engine).read(_revoked, [c.device.id for c in held])
    for conn in held:
        if conn.device.id in gone:
            server_logger.info("device %d was revoked meanwhile: closing", conn.device.id)
            await conn.close(LinkClose.REVOKED)


def _seqs(conn: Connection, ids: list[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(ids):
        query = select(accounts.c.id, accounts.c.seq).where(accounts.c.id.in_(chunk))
        found.update({int(r.id): int(r.seq) for r in conn.execute(query)})
    return found


def _revoked(conn: Connection, ids: list[int]) -> set[int]:
    """Of ``ids``, the devices revoked or deleted."""
    live: set[int] = set()
    for chunk in _chunks(ids):
        query = select(devices.c.id).where(devices.c.id.in_(chunk), devices.c.revoked_at.is_(None))
        live.update(int(r.id) for r in conn.execute(query))
    return set(ids) - live


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = list(ids)
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
