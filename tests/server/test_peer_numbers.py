"""Numbers as people write them, on the server: the To of a send is read for the sending
line's country, short codes can be texted, a sender name is refused in plain words; what
a bridge uploads is filed under one spelling per person (issue #12).

Sends go to a bridge over the real encrypted device link."""

from __future__ import annotations

from typing import Any

from protocol.messages import SendSms
from tests.server.conftest import Env
from tests.server.test_lines import _second_line

UK_LINE = "+447700900001"


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
