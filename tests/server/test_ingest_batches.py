"""Batch ingest: thread summaries computed in the database, lookups over long key lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.storage.conversations import Inbound
from server.storage.util import MAX_IN
from tests.server.conftest import Env

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
PEER = "+15550100002"


async def _line(env: Env) -> int:
    return (await env.svc.lines.for_account(env.account_id))[0].id


async def _ingest(env: Env, items: list[Inbound]):  # type: ignore[no-untyped-def]
    return await env.svc.conversations.ingest_inbound(env.account_id, env.device_id, items, T)


async def _thread(env: Env, peer: str = PEER):  # type: ignore[no-untyped-def]
    threads, _ = await env.svc.conversations.threads(env.account_id)
    return next(t for t in threads if t.peer == peer)


async def test_batch_updates_each_thread_with_its_newest_message_by_time(env: Env) -> None:
    line = await _line(env)
    other = "+15550100003"
    # Out of time order within the batch, two threads interleaved.
    result = await _ingest(
        env,
        [
            Inbound("a1", line, PEER, "middle", T + timedelta(minutes=5)),
            Inbound("b1", line, other, "other newest", T + timedelta(minutes=9)),
            Inbound("a2", line, PEER, "newest", T + timedelta(minutes=7)),
            Inbound("a3", line, PEER, "oldest", T),
            Inbound("b2", line, other, "other older", T + timedelta(minutes=1)),
        ],
    )
    first = await _thread(env)
    assert first.last_message is not None and first.last_message.body == "newest"
    assert (first.unread, first.seq) == (3, result.seq - 1)  # a3 took the batch's 4th seq
    assert first.last_activity == "2026-11-01T10:07:00Z"
    second = await _thread(env, other)
    assert second.last_message is not None and second.last_message.body == "other newest"
    assert (second.unread, second.seq) == (2, result.seq)

    # An archived conversation comes back; an older arrival counts as unread but does
    # not replace the newest message.
    await env.svc.conversations.update_thread(env.account_id, first.id, archived=True)
    later = await _ingest(env, [Inbound("a4", line, PEER, "late delivery", T)])
    first = await _thread(env)
    assert first.last_message is not None and first.last_message.body == "newest"
    assert (first.unread, first.archived, first.seq) == (4, False, later.seq)
    assert first.last_activity == "2026-11-01T10:07:00Z"

    # Same timestamp: the later message (higher id) is the newest.
    await _ingest(env, [Inbound("a5", line, PEER, "tie", T + timedelta(minutes=7))])
    first = await _thread(env)
    assert first.last_message is not None and first.last_message.body == "tie"


async def test_a_batch_longer_than_one_lookup_is_idempotent_and_finds_conflicts(
    env: Env,
) -> None:
    line = await _line(env)
    count = 2 * MAX_IN + 44  # three lookups of keys, and of threads (one per sender)
    items = [
        Inbound(f"k{n}", line, f"+1555030{n:04d}", f"text {n}", T + timedelta(seconds=n))
        for n in range(count)
    ]
    first = await _ingest(env, items)
    assert (first.added, first.conflicts) == (count, [])
    again = await _ingest(env, items)
    assert (again.added, again.conflicts, again.seq) == (0, [], None)
    changed = list(items)
    changed[-1] = changed[-1]._replace(body="tampered")
    changed[MAX_IN] = changed[MAX_IN]._replace(body="tampered too")
    clash = await _ingest(env, changed)
    assert clash.added == 0
    assert sorted(key for _, key in clash.conflicts) == sorted([f"k{count - 1}", f"k{MAX_IN}"])
    threads, _ = await env.svc.conversations.threads(env.account_id)
    assert len(threads) == count
    assert {t.last_message.body for t in threads if t.last_message} == {
        f"text {n}" for n in range(count)
    }
