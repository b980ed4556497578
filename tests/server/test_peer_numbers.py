"""Numbers as people write them, on the server: the To of a send is read for the sending
line's country, short codes can be texted, a sender name is refused in plain words; what
a bridge uploads is filed under one spelling per person (issue #12).

Sends go to a bridge over the real encrypted device link."""

from __future__ import annotations

from typing import Any

from protocol.messages import Ack, InboundSms, SendSms, Upload
from tests.server.conftest import PHONE, Env
from tests.server.test_lines import _second_line

UK_LINE = "+447700900001"
SENT = "2026-11-01T11:59:00+01:00"


async def _uk_line(env: Env) -> int:
    line_id = await _second_line(env, UK_LINE)
    await env.svc.lines.set_verified(env.account_id, UK_LINE, env.clock.now())
    return line_id


async def _send(env: Env, to: str, key: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    resp = await env.client.post(
        "/api/v1/messages", json={"to": to, "body": f"to {to}", "client_msg_id": key, **extra}
    )
    return resp.status, await resp.json()


async def _offered(env: Env, count: int) -> list[SendSms]:
    dev = await env.device()
    orders = [await dev.recv() for _ in range(count)]
    await dev.close()
    assert all(isinstance(o, SendSms) for o in orders), orders
    return orders


async def test_national_number_is_sent_to_its_e164_in_the_lines_thread(env: Env) -> None:
    uk = await _uk_line(env)
    await env.login()
    status, first = await _send(env, "07700 900123", "a", line_id=uk)
    assert status == 201, first
    assert first["message"]["peer"] == "+447700900123"
    # Every other spelling of the same person lands in the same conversation.
    for key, spelling in enumerate(["07700900123", "+44 7700 900123", "0044 7700 900123"]):
        status, again = await _send(env, spelling, f"b{key}", line_id=uk)
        assert status == 201 and again["message"]["thread_id"] == first["message"]["thread_id"]
    orders = await _offered(env, 4)
    assert {o.to for o in orders} == {"+447700900123"}


async def test_national_number_follows_the_default_lines_country(env: Env) -> None:
    await env.login()
    status, sent = await _send(env, "(555) 010-0002", "a")
    assert status == 201 and sent["message"]["peer"] == "+15550100002"


async def test_short_code_can_be_texted(env: Env) -> None:
    await env.login()
    status, sent = await _send(env, "123 45", "a")
    assert status == 201, sent
    assert sent["message"]["peer"] == "12345"
    (order,) = await _offered(env, 1)
    assert order.to == "12345" and order.body == "to 123 45"


async def test_a_name_is_refused_in_plain_words(env: Env) -> None:
    await env.login()
    status, refused = await _send(env, "BANK", "a")
    assert status == 400
    assert refused == {
        "error": {
            "code": "cannot_reply_to_name",
            "message": "BANK is a name, not a number: it cannot receive texts. "
            "To reach them, send to their phone number instead.",
        }
    }
    # Too long for a sender name, still a name.
    status, refused = await _send(env, "Deutsche Bank", "b")
    assert status == 400 and refused["error"]["code"] == "cannot_reply_to_name"
    threads = await (await env.client.get("/api/v1/threads")).json()
    assert threads["threads"] == []


async def test_not_a_number_says_how_to_write_one_for_the_line(env: Env) -> None:
    uk = await _uk_line(env)
    await env.login()
    status, refused = await _send(env, "12", "a", line_id=uk)
    assert status == 400 and refused["error"] == {
        "code": "invalid_number",
        "message": "That is not a phone number or short code. Type the number as you would "
        "dial it on this line's phone, e.g. 07400 123456, or with its country code, "
        "e.g. +44 7400 123456.",
    }
    for bad in ("+1", "12*34", "1" * 40, "123\x0045", "BA\x00NK"):
        status, refused = await _send(env, bad, "b", line_id=uk)
        assert status == 400 and refused["error"]["code"] == "invalid_number", bad


def _sms(n: int, sender: str, line: str | None = None) -> InboundSms:
    return InboundSms(
        n=n, key=f"k{n}", sender=sender, body=f"from {sender}", sent_at=SENT, line=line
    )


async def _threads(env: Env) -> dict[tuple[str, str], list[str]]:
    """(line, peer) -> bodies, as a browser reads them."""
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    found = {}
    for t in threads:
        page = await (await env.client.get(f"/api/v1/threads/{t['id']}/messages")).json()
        found[(t["line"], t["peer"])] = sorted(m["body"] for m in page["messages"])
    return found


async def test_uploaded_senders_are_one_thread_per_person_on_each_line(env: Env) -> None:
    await _uk_line(env)
    dev = await env.device()
    items = [
        _sms(1, "07700900123", UK_LINE),
        _sms(2, "+447700900123", UK_LINE),
        _sms(3, "0044 7700 900123", UK_LINE),
        _sms(4, "5550100009", PHONE),  # national on the American line
        _sms(5, "+15550100009"),  # no line named: the bridge's first line (PHONE)
        _sms(6, "12345", UK_LINE),
        _sms(7, "BANK", PHONE),
    ]
    await dev.send(Upload(items=items))
    ack = await dev.recv()
    assert isinstance(ack, Ack) and ack.upto == 7 and not ack.rejected
    await env.login()
    assert await _threads(env) == {
        (UK_LINE, "+447700900123"): [
            "from +447700900123",
            "from 0044 7700 900123",
            "from 07700900123",
        ],
        (PHONE, "+15550100009"): ["from +15550100009", "from 5550100009"],
        (UK_LINE, "12345"): ["from 12345"],
        (PHONE, "BANK"): ["from BANK"],
    }


async def test_senders_no_rule_can_spell_are_kept_or_refused_as_before(env: Env) -> None:
    dev = await env.device()
    items = [_sms(1, "Deutsche Bank"), _sms(2, "+1"), _sms(3, "BA\nNK")]
    await dev.send(Upload(items=items))
    ack = await dev.recv()
    assert isinstance(ack, Ack) and ack.upto == 3
    assert [(r.n, r.reason) for r in ack.rejected] == [(3, "bad_sender")]
    await env.login()
    peers = {peer for _, peer in await _threads(env)}
    assert peers == {"Deutsche Bank", "+1", "unknown"}
