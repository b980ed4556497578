"""Numbers as people write them, end to end (issue #12): the emulated network delivers to
phone 1's modem (a real pty), the real AT driver and bridge upload, the server files each
sender under one spelling for the line's country (+1, the emulated numbers are NANP)."""

from __future__ import annotations

from aiohttp import ClientSession, CookieJar

from tests.e2e.conftest import PASSWORD, PHONE1, PHONE2, System, eventually

FRIEND = "+15550100009"  # not a virtual phone: written nationally it is 555 010 0009


async def _messages_by_peer(http: ClientSession, url: str) -> dict[str, list[str]]:
    async with http.get(f"{url}/api/v1/threads") as resp:
        threads = (await resp.json())["threads"]
    found: dict[str, list[str]] = {}
    for thread in threads:
        async with http.get(f"{url}/api/v1/threads/{thread['id']}/messages") as resp:
            found[thread["peer"]] = sorted(m["body"] for m in (await resp.json())["messages"])
    return found


async def test_one_thread_per_person_short_codes_and_names_their_own(system: System) -> None:
    network = system.emulator.network
    network.send_text("5550100009", PHONE1, "national")
    network.send_text(FRIEND, PHONE1, "international")
    network.send_text("12345", PHONE1, "Reply STOP to stop")
    network.send_text("BANK", PHONE1, "Your code is 481516")
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{system.url}/api/v1/session", json=login) as resp:
            assert resp.status == 200
        expected = {
            FRIEND: ["international", "national"],
            "12345": ["Reply STOP to stop"],
            "BANK": ["Your code is 481516"],
        }
        seen: dict[str, list[str]] = {}

        async def filed() -> bool:
            seen.update(await _messages_by_peer(http, system.url))
            return sum(len(v) for v in seen.values()) >= 4

        await eventually(filed, timeout=20)
        assert await _messages_by_peer(http, system.url) == expected

        # A reply to the short code leaves the modem for the network's outside world.
        send = {"to": "12345", "body": "STOP", "client_msg_id": "stop"}
        async with http.post(f"{system.url}/api/v1/messages", json=send) as resp:
            assert resp.status == 201, await resp.text()
        await eventually(
            lambda: any(m.recipient == "12345" and m.text == "STOP" for m in network.external),
            timeout=20,
        )
        # A reply to the name is refused before anything is queued.
        send = {"to": "BANK", "body": "who is this?", "client_msg_id": "bank"}
        async with http.post(f"{system.url}/api/v1/messages", json=send) as resp:
            assert resp.status == 400
            assert (await resp.json())["error"]["code"] == "cannot_reply_to_name"
        # A national number typed in To reaches phone 2 (+1 555 010 0002).
        send = {"to": "(555) 010-0002", "body": "dialled nationally", "client_msg_id": "nat"}
        async with http.post(f"{system.url}/api/v1/messages", json=send) as resp:
            assert resp.status == 201 and (await resp.json())["message"]["peer"] == PHONE2
        await eventually(lambda: "dialled nationally" in system.received_by(PHONE2), timeout=20)
