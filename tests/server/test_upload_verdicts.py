"""One bad upload item never stops the queue: it is judged alone, refused with a reason,
stored as a placeholder, and everything around it is stored (over the real device link)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from protocol.messages import (
    MAX_BODY,
    Ack,
    Attachment,
    Error,
    InboundSms,
    Rejection,
    Upload,
)
from server.storage.schema import messages
from tests.device_link import DeviceClient
from tests.server.conftest import Env
from tests.server.test_sockets import sms

GOOD_SENT_AT = "2026-11-01T11:59:00+01:00"


def item(n: int, **fields: Any) -> dict[str, Any]:
    """An upload item as JSON, with any field replaced (even by the wrong type)."""
    base = {"n": n, "key": f"k{n}", "sender": "+15550100002", "body": f"text {n}"}
    base["sent_at"] = GOOD_SENT_AT
    base.update(fields)
    return base


async def send_raw(dev: DeviceClient, upload: dict[str, Any]) -> None:
    await dev.ws.send_bytes(dev.noise.encrypt(json.dumps(upload).encode()))


async def all_messages(env: Env) -> list[dict[str, Any]]:
    await env.login()
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    found: list[dict[str, Any]] = []
    for thread in threads:
        resp = await env.client.get(f"/api/v1/threads/{thread['id']}/messages")
        found += (await resp.json())["messages"]
    return sorted(found, key=lambda m: m["id"])


# Every field an item carries, made unacceptable in each way the protocol can carry it.
BAD_FIELDS = [
    pytest.param({"body": "x" * (MAX_BODY + 1)}, "body_too_long", id="body-too-long"),
    pytest.param({"key": ""}, "field_too_long", id="key-empty"),
    pytest.param({"key": "k" * 101}, "field_too_long", id="key-too-long"),
    pytest.param({"line": "+1" * 20}, "field_too_long", id="line-too-long"),
    pytest.param({"sender": ""}, "bad_sender", id="sender-empty"),
    pytest.param({"sender": "+1555" * 10}, "bad_sender", id="sender-too-long"),
    pytest.param({"sender": "+1555\n0100"}, "bad_sender", id="sender-newline"),
    pytest.param({"sender": "BANK\u202e"}, "bad_sender", id="sender-bidi-override"),
    pytest.param(
        {"attachments": [{"mime": "image/png", "data": "eA=="}] * 11},
        "too_many_attachments",
        id="attachments-too-many",
    ),
    pytest.param(
        {"attachments": [{"mime": "not a type", "data": "eA=="}]},
        "invalid_attachment",
        id="attachment-mime",
    ),
    # Wrong types: the frame no longer decodes whole, so the items are taken apart.
    pytest.param({"body": 12}, "malformed", id="body-not-text"),
    pytest.param({"key": ["k"]}, "malformed", id="key-not-text"),
    pytest.param({"sent_at": 1700000000}, "malformed", id="time-not-text"),
    pytest.param({"incomplete": "yes"}, "malformed", id="incomplete-not-bool"),
    pytest.param({"line": 5}, "malformed", id="line-not-text"),
    pytest.param({"attachments": "photo"}, "malformed", id="attachments-not-list"),
    pytest.param(
        {"attachments": [{"mime": "image/png", "data": "not base64!"}]},
        "malformed",
        id="attachment-not-base64",
    ),
    pytest.param({"sender": None}, "malformed", id="sender-null"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_FIELDS)
async def test_a_bad_item_is_refused_alone_and_the_rest_flows(
    env: Env, bad: dict[str, Any], reason: str
) -> None:
    dev = await env.device()
    await send_raw(dev, {"t": "upload", "items": [item(1), item(2, **bad), item(3)]})
    assert await dev.recv() == Ack(upto=3, rejected=[Rejection(n=2, reason=reason)])
    # The link stays up and what comes next is stored as usual.
    await dev.send(Upload(items=[sms(4, "after")]))
    assert await dev.recv() == Ack(upto=4)
    stored = await all_messages(env)
    assert [m["body"] for m in stored if not m["refused"]] == ["text 1", "text 3", "after"]
    (placeholder,) = [m for m in stored if m["refused"]]
    assert placeholder["refused"] == reason and placeholder["body"] == ""
    assert placeholder["direction"] == "in" and placeholder["attachments"] == []
    # The sender is named when it can be: "a message from X could not be stored".
    unnamed = reason == "bad_sender" or ("sender" in bad and bad["sender"] is None)
    assert placeholder["peer"] == ("unknown" if unnamed else "+15550100002")
    # The bridge remembers what the server handled: the refused item is not asked again.
    assert (await env.device()).welcome.acked_upto == 4


async def test_a_refused_item_sent_again_is_recognised_not_stored_twice(env: Env) -> None:
    bad = Upload(items=[InboundSms(n=1, key="k1", sender="", body="x", sent_at=GOOD_SENT_AT)])
    dev = await env.device()
    await dev.send(bad)
    first = await dev.recv()
    await dev.send(bad)
    assert await dev.recv() == first == Ack(upto=1, rejected=[Rejection(n=1, reason="bad_sender")])
    async with env.svc.engine.connect() as conn:
        count = (await conn.execute(select(func.count()).select_from(messages))).scalar_one()
    assert count == 1


async def test_a_message_of_255_parts_is_not_too_long(env: Env) -> None:
    # 255 parts of 153 GSM-7 characters: the longest text the network delivers.
    longest = ("Lorem ipsum dolor sit amet " * 2000)[: 255 * 153]
    dev = await env.device()
    await dev.send(Upload(items=[sms(1, longest)]))
    assert await dev.recv() == Ack(upto=1)
    (stored,) = await all_messages(env)
    assert stored["body"] == longest and stored["refused"] is None


@pytest.mark.parametrize(
    "sent_at",
    ["yesterday", "2026-13-01T00:00:00Z", "9999-12-31T23:59:59-14:00", "1970-01-01T00:00:00Z"],
)
async def test_an_unreadable_time_keeps_the_text_and_takes_the_receipt_time(
    env: Env, sent_at: str
) -> None:
    dev = await env.device()
    await dev.send(
        Upload(items=[InboundSms(n=1, key="k", sender="+15550100002", body="hi", sent_at=sent_at)])
    )
    assert await dev.recv() == Ack(upto=1)
    (stored,) = await all_messages(env)
    assert stored["body"] == "hi" and stored["refused"] is None
    when = datetime.fromisoformat(stored["timestamp"].replace("Z", "+00:00"))
    assert when == env.clock.now().astimezone(UTC)


async def test_a_time_without_offset_is_taken_as_utc(env: Env) -> None:
    dev = await env.device()
    await dev.send(
        Upload(
            items=[
                InboundSms(
                    n=1, key="k", sender="+15550100002", body="hi", sent_at="2026-11-01T10:00:00"
                )
            ]
        )
    )
    assert await dev.recv() == Ack(upto=1)
    (stored,) = await all_messages(env)
    assert stored["timestamp"] == "2026-11-01T10:00:00Z"


async def test_an_item_without_a_position_refuses_the_frame_and_stores_nothing(env: Env) -> None:
    dev = await env.device()
    await send_raw(dev, {"t": "upload", "items": [item(1), {"key": "x", "body": "?"}]})
    err = await dev.recv()
    assert isinstance(err, Error) and err.code == "malformed_message"
    assert await dev.closed() == 1002
    async with env.svc.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(messages))).scalar_one() == 0


async def test_a_good_mms_beside_a_refused_one_keeps_its_attachments(env: Env) -> None:
    picture = Attachment(mime="image/png", data=b"\x89PNG picture")
    dev = await env.device()
    await dev.send(
        Upload(
            items=[
                InboundSms(
                    n=1,
                    key="a",
                    sender="+15550100002",
                    body="pic",
                    sent_at=GOOD_SENT_AT,
                    attachments=[picture],
                ),
                InboundSms(
                    n=2,
                    key="b",
                    sender="+15550100002",
                    body="",
                    sent_at=GOOD_SENT_AT,
                    attachments=[picture] * 11,
                ),
            ]
        )
    )
    assert await dev.recv() == Ack(upto=2, rejected=[Rejection(n=2, reason="too_many_attachments")])
    good, refused = await all_messages(env)
    assert good["body"] == "pic" and len(good["attachments"]) == 1
    assert refused["refused"] == "too_many_attachments" and refused["attachments"] == []
