"""Several phones on one account (issue #16): a bridge serves its own SIM's number.

A pairing code names the number its bridge will serve (the account's own by default); a
new number is an unverified line until the account proves it (the code texted to it,
typed, or uploaded by the bridge on that SIM). Over the real encrypted device link and
real loopback HTTP.
"""

from __future__ import annotations

import asyncio
import json

from protocol.messages import Ack, ContactEntry, Contacts, ContactsAck, InboundSms, SendSms, Upload
from protocol.pairing import parse_pairing_uri
from server.admin import create_pairing_code
from server.auth.codes import code_message
from server.config import Config
from tests.server.conftest import PASSWORD, PHONE, TERMS, Env
from tests.server.test_outbox_leases import orders
from tests.server.test_pairing import pair

SECOND = "+15550100009"
ALICE = "+15550100002"


async def code_for_line(env: Env, number: str | None = None) -> dict:
    body = {"number": number} if number is not None else {}
    resp = await env.client.post("/api/v1/pairing-codes", json=body)
    assert resp.status == 201, await resp.text()
    return dict(await resp.json())


async def lines(env: Env) -> list[dict]:
    return list((await (await env.client.get("/api/v1/lines")).json())["lines"])


def sms(n: int, body: str, sender: str = ALICE) -> InboundSms:
    return InboundSms(n=n, key=f"k{n}", sender=sender, body=body,
                      sent_at=f"2026-11-01T10:0{n}:00+00:00")  # fmt: skip


async def bodies(env: Env) -> list[tuple[str, str]]:
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    return sorted((t["line"], t["last_message"]["body"]) for t in threads)


async def second_phone(env: Env) -> tuple[int, object]:
    """A second phone paired for SECOND: (its line id, its connected link)."""
    offer = await code_for_line(env, SECOND)
    _, dev = await pair(env, parse_pairing_uri(offer["uri"]).code, name="Second phone")
    return int(offer["line_id"]), dev


async def test_a_phone_paired_for_another_number_serves_only_that_line(env: Env) -> None:
    await env.login()
    own = await code_for_line(env)
    _, first = await pair(env, parse_pairing_uri(own["uri"]).code, name="Modem")
    assert first.welcome.lines == [PHONE]
    line_id, second = await second_phone(env)
    assert second.welcome.lines == [SECOND]
    assert [(x["number"], x["verified"]) for x in await lines(env)] == [
        (PHONE, True),
        (SECOND, False),
    ]
    # What the second phone receives lands on its own line, kept until it is proven.
    await second.send(Upload(items=[sms(1, "to the second SIM")]))
    assert isinstance(await second.recv(), Ack)
    assert await bodies(env) == []
    # Each line has its own sender: a send from the second line goes to the second phone.
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": ALICE, "body": "hi", "client_msg_id": "c1", "line_id": line_id},
    )
    assert resp.status == 403  # not from an unproven number
    await first.close()
    await second.close()


async def test_the_code_texted_to_the_new_number_proves_it_through_its_bridge(env: Env) -> None:
    await env.login()
    line_id, second = await second_phone(env)
    await second.send(Upload(items=[sms(1, "history of the second SIM")]))
    assert isinstance(await second.recv(), Ack)
    browser = await env.client.ws_connect("/api/v1/ws")
    await browser.send_str(json.dumps({"t": "subscribe", "since": 0}))
    resp = await env.client.post(f"/api/v1/lines/{line_id}/code")
    assert resp.status == 202, await resp.text()
    code = await env.code_for(SECOND)
    # The network delivers the code to the second phone's SIM; its bridge uploads it.
    text = code_message("line", code, env.svc.verification.host)
    await second.send(Upload(items=[sms(2, text, sender="FERRY")]))
    assert isinstance(await second.recv(), Ack)
    assert [(x["number"], x["verified"]) for x in await lines(env)] == [
        (PHONE, True),
        (SECOND, True),
    ]
    assert (SECOND, text) in await bodies(env)
    assert any(t["last_message"]["body"] == "history of the second SIM" for t in
               (await (await env.client.get("/api/v1/threads")).json())["threads"])  # fmt: skip
    # An open tab is told to refetch: the line's messages are older than its cursor.
    while True:
        frame = json.loads((await asyncio.wait_for(browser.receive(), 5)).data)
        if frame["t"] == "resync":
            break
    await browser.close()
    # Now the line sends, through its own phone only.
    first = await env.device()
    send = {"to": ALICE, "body": "from the second SIM", "client_msg_id": "c2", "line_id": line_id}
    resp = await env.client.post("/api/v1/messages", json=send)
    assert resp.status == 201, await resp.text()
    (order,) = await orders(second)
    assert isinstance(order, SendSms) and order.line == SECOND
    assert await orders(first, wait=0.5) == []
    events = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    assert "line_verified" in [e["kind"] for e in events]
    await first.close()
    await second.close()


async def test_the_user_may_type_the_code_and_label_the_line(env: Env) -> None:
    await env.login()
    line_id, second = await second_phone(env)
    assert (await env.client.post(f"/api/v1/lines/{line_id}/code")).status == 202
    code = await env.code_for(SECOND)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    resp = await env.client.post(f"/api/v1/lines/{line_id}/verify", json={"code": wrong})
    assert resp.status == 400
    resp = await env.client.post(f"/api/v1/lines/{line_id}/verify", json={"code": code})
    assert resp.status == 200 and (await resp.json())["line"]["verified"] is True
    resp = await env.client.post(f"/api/v1/lines/{line_id}/code")
    assert resp.status == 409
    resp = await env.client.patch(f"/api/v1/lines/{line_id}", json={"label": "  Work   phone "})
    assert (await resp.json())["line"]["label"] == "Work phone"
    resp = await env.client.patch(f"/api/v1/lines/{line_id}", json={"label": "a\nb"})
    assert resp.status == 400
    assert [x["label"] for x in await lines(env)] == ["", "Work phone"]
    await second.close()


async def test_another_accounts_lines_and_numbers(env: Env) -> None:
    other = await env.svc.accounts.create(
        "+15550100077", env.svc.passwords.hash(PASSWORD), env.clock.now(),
        verified_at=env.clock.now(),
    )  # fmt: skip
    await env.login()
    # Its own number is not ours to claim; nor are its lines to label or verify.
    resp = await env.client.post("/api/v1/pairing-codes", json={"number": "+15550100077"})
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "number_taken"
    (theirs,) = await env.svc.lines.for_account(other)
    assert (await env.client.patch(f"/api/v1/lines/{theirs.id}", json={"label": "x"})).status == 404
    assert (await env.client.post(f"/api/v1/lines/{theirs.id}/code")).status == 404
    # An unproven claim yields: the other account claimed SECOND, then we do.
    await env.svc.lines.claim(other, SECOND, env.clock.now())
    assert [x.number for x in await env.svc.lines.for_account(other)] == ["+15550100077", SECOND]
    line_id, second = await second_phone(env)
    assert [x.number for x in await env.svc.lines.for_account(other)] == ["+15550100077"]
    assert await env.svc.lines.get(env.account_id, line_id) is not None
    await second.close()
    # A number another account proved as a line is not taken by a sign-up either.
    await env.svc.lines.verify(env.account_id, SECOND, env.clock.now())
    resp = await env.client.post(
        "/api/v1/accounts",
        json={"accept_terms": TERMS, "phone": SECOND, "password": "another good password"},
    )
    assert resp.status == 202
    assert [x.number for x in await env.svc.lines.for_account(env.account_id)] == [PHONE, SECOND]


async def test_contacts_name_conversations_per_line(env: Env) -> None:
    """The same number can be "Alice" in one phone's contacts and "Mum" in the other's:
    each line's conversation carries its own phone's name (another's when its own phone
    does not know the number)."""
    await env.login()
    first = await env.device()
    line_id, second = await second_phone(env)
    await env.svc.lines.verify(env.account_id, SECOND, env.clock.now())
    bob = "+15550100003"
    await first.send(
        Contacts(entries=[ContactEntry(name="Alice", number=ALICE), ContactEntry("Bob", bob)])
    )
    assert isinstance(await first.recv(), ContactsAck)
    await second.send(Contacts(entries=[ContactEntry(name="Mum", number=ALICE)]))
    assert isinstance(await second.recv(), ContactsAck)
    await first.send(Upload(items=[sms(1, "on the first")]))
    assert isinstance(await first.recv(), Ack)
    await second.send(Upload(items=[sms(2, "on the second"), sms(3, "Bob", sender=bob)]))
    assert isinstance(await second.recv(), Ack)
    threads = (await (await env.client.get("/api/v1/threads")).json())["threads"]
    # The second phone does not know Bob: the first phone's name for him stands in.
    assert sorted((t["line"], t["title"]) for t in threads) == [
        (PHONE, "Alice"),
        (SECOND, "Bob"),
        (SECOND, "Mum"),
    ]
    contacts = (await (await env.client.get("/api/v1/contacts")).json())["contacts"]
    assert sorted((c["line_id"] == line_id, c["name"]) for c in contacts) == [
        (False, "Alice"),
        (False, "Bob"),
        (True, "Mum"),
    ]
    await first.close()
    await second.close()


async def test_a_code_from_the_command_line_is_for_the_accounts_own_number(
    env: Env, config: Config
) -> None:
    await env.svc.lines.claim(env.account_id, SECOND, env.clock.now())
    offer = await create_pairing_code(config, PHONE, "http://127.0.0.1:1")
    _, dev = await pair(env, parse_pairing_uri(offer.uri).code, name="Headless modem")
    assert dev.welcome.lines == [PHONE]
    await dev.close()
