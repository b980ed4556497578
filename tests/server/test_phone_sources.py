"""What an Android phone adds to an upload (issue #16), over the real encrypted device
link and real loopback HTTP: messages the user sent from the phone itself arrive as
outgoing messages of their thread (not unread, no outbox row, the phone's status), and
a bridge importing a phone's history reports its progress to browsers."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from protocol.messages import Ack, ImportProgress, InboundSms, Upload
from server.storage.schema import outbox
from tests.server.conftest import Env
from tests.server.test_device_status_views import devices, until_device
from tests.server.test_upload_verdicts import all_messages

ALICE = "+15550100002"


def _sms(n: int, body: str, **fields: object) -> InboundSms:
    return InboundSms(
        n=n, key=f"android:sms:{n}:1", sender=ALICE, body=body,
        sent_at=f"2026-11-01T10:0{n}:00+00:00", **fields,  # type: ignore[arg-type]
    )  # fmt: skip


async def test_messages_sent_from_the_phone_are_outgoing_in_their_thread(env: Env) -> None:
    bridge = await env.device()
    await bridge.send(
        Upload(
            items=[
                _sms(1, "Are you coming?"),
                _sms(2, "Yes, at 8", direction="out", status="delivered"),
                _sms(3, "Typed on the phone, no report", direction="out"),
            ]
        )
    )
    ack = await bridge.recv()
    assert isinstance(ack, Ack) and ack.upto == 3 and not ack.rejected
    found = await all_messages(env)
    assert [(m["direction"], m["status"], m["peer"], m["body"]) for m in found] == [
        ("in", "received", ALICE, "Are you coming?"),
        ("out", "delivered", ALICE, "Yes, at 8"),
        ("out", "sent", ALICE, "Typed on the phone, no report"),
    ]
    assert len({m["thread_id"] for m in found}) == 1
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    # Only the received message is unread; the phone's own messages left already.
    assert [(t["unread"], t["last_message"]["body"]) for t in threads] == [
        (1, "Typed on the phone, no report")
    ]
    async with env.svc.engine.connect() as conn:
        rows = (await conn.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert rows == 0  # nothing for a bridge to send
    await bridge.close()


async def test_a_reread_of_a_sent_message_is_stored_once(env: Env) -> None:
    bridge = await env.device()
    first = _sms(1, "Yes, at 8", direction="out", status="sent")
    await bridge.send(Upload(items=[first]))
    assert (await bridge.recv()).upto == 1
    # The bridge read the same row again later (its re-scan window): same key, same text.
    again = InboundSms(
        n=2, key=first.key, sender=first.sender, body=first.body, sent_at=first.sent_at,
        direction="out", status="delivered",
    )  # fmt: skip
    await bridge.send(Upload(items=[again]))
    ack = await bridge.recv()
    assert ack.upto == 2 and not ack.conflicts and not ack.rejected
    assert [m["body"] for m in await all_messages(env)] == ["Yes, at 8"]
    await bridge.close()


async def test_import_progress_is_shown_while_it_runs(env: Env) -> None:
    await env.login()
    bridge = await env.device()
    await bridge.send(ImportProgress(total=100_000, done=41_200))
    view = await until_device(env, lambda v: v.get("import_total") == 100_000)
    assert view["import_done"] == 41_200 and view["online"] is True
    await bridge.send(ImportProgress(total=100_000, done=100_000))
    view = await until_device(env, lambda v: v.get("import_total") is None)
    assert view.get("import_done") is None
    # A bridge that goes away takes its import report with it.
    await bridge.send(ImportProgress(total=10, done=3))
    await until_device(env, lambda v: v.get("import_done") == 3)
    await bridge.close()
    for _ in range(300):
        [view] = await devices(env)
        if not view["online"]:
            break
        await asyncio.sleep(0.01)
    assert view.get("import_total") is None
