"""The broadcast release job (a driver): every few seconds, on every node, due
recipients of broadcasts become outgoing messages (``server/storage/broadcasts.py``
decides and serialises; this only runs it and tells browsers and bridges)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from server.hub import ChangesHint

if TYPE_CHECKING:
    from server.services import Services

#: Seconds between two runs of the job on one node.
RELEASE_INTERVAL = 2.0


async def release_broadcasts(svc: Services) -> int:
    """Release what is due now; returns how many accounts got new messages."""
    now = svc.clock.now()
    touched = 0
    for account_id in await svc.broadcasts.due_accounts(now):
        seq = await svc.broadcasts.release_due(account_id, now)
        if seq is not None:
            svc.hub.publish(account_id, ChangesHint(seq))
            svc.registry.wake_outbox(account_id)
            touched += 1
    return touched
