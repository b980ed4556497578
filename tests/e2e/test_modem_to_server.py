"""Phone → modem (pty) → AT driver → bridge → server, and back, without a browser."""

from __future__ import annotations

from aiohttp import ClientSession, CookieJar

from tests.e2e.conftest import PASSWORD, PHONE1, PHONE2, System, eventually


async def _threads(session: ClientSession, url: str) -> list[dict]:
    async with session.get(f"{url}/api/v1/threads") as resp:
        assert resp.status == 200
        return (await resp.json())["threads"]


async def test_sms_from_phone2_reaches_server_and_reply_reaches_phone2(system: System) -> None:
    system.emulator.network.send_text(PHONE2, PHONE1, "Hi from phone 2 — ça va? €5")
    # unsafe=True: the jar must keep cookies for a bare IP host (127.0.0.1).
    async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
        login = {"phone": PHONE1, "password": PASSWORD}
        async with http.post(f"{system.url}/api/v1/session", json=login) as resp:
            assert resp.status == 200

        async def arrived() -> bool:
            threads = await _threads(http, system.url)
            return bool(threads) and threads[0]["last_message"]["body"].startswith("Hi from")

        await eventually(arrived)
        (thread,) = await _threads(http, system.url)
        assert thread["peer"] == PHONE2
        assert thread["last_message"]["body"] == "Hi from phone 2 — ça va? €5"
        # The SIM slot was freed once the journal had it.
        modem = system.emulator.phone(PHONE1).modem
        await eventually(lambda: sum(m.used for m in modem.memories.values()) == 0)

        send = {"to": PHONE2, "body": "Reply with emoji 🚀 and Ελληνικά", "client_msg_id": "r1"}
        async with http.post(f"{system.url}/api/v1/messages", json=send) as resp:
            assert resp.status == 201
            message = (await resp.json())["message"]
        await eventually(lambda: "Reply with emoji 🚀 and Ελληνικά" in system.received_by(PHONE2))

        async def delivered() -> bool:
            url = f"{system.url}/api/v1/threads/{message['thread_id']}/messages"
            async with http.get(url) as resp:
                msgs = (await resp.json())["messages"]
            return any(m["id"] == message["id"] and m["status"] == "delivered" for m in msgs)

        # The network's status report (+CDS) rolls up to "delivered" on the server.
        await eventually(delivered)
    assert system.received_by(PHONE2).count("Reply with emoji 🚀 and Ελληνικά") == 1
    # Final and confirmed by the server: nothing left for the bridge to report.
    await eventually(lambda: system.bridge.journal.unreported() == [])


async def test_messages_received_while_server_down_arrive_after_restart(system: System) -> None:
    await system.runner.cleanup()
    for i in range(3):
        system.emulator.network.send_text(PHONE2, PHONE1, f"while down {i}")
    # The bridge takes them off the SIM into its journal even with the server away.
    await eventually(lambda: system.bridge.journal.inbound_count() == 3)
    from tests.e2e.conftest import start_server

    system.runner = await start_server(system.config)
    await eventually(lambda: system.bridge.journal.inbound_count() == 0)
    svc = system.svc
    account = await svc.accounts.by_phone(PHONE1)
    assert account is not None
    threads, _ = await svc.conversations.threads(account.id)
    msgs, _ = await svc.conversations.thread_messages(
        account.id, threads[0].id, before=None, limit=10
    )
    assert sorted(m.body for m in msgs) == ["while down 0", "while down 1", "while down 2"]


async def test_sim_phonebook_names_conversations(system: System) -> None:
    """The SIM's phonebook (UCS-2 names over AT+CPBR) reaches the server and titles threads."""
    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None

    async def synced() -> bool:
        names = {c.name for c in await system.svc.contacts.for_account(account.id)}
        return {"Alice", "Zoë", "Миша", "李雷", "Bob, Jr [work]"} <= names

    await eventually(synced)
    system.emulator.network.send_text(PHONE2, PHONE1, "it's Alice")

    async def titled() -> bool:
        threads, _ = await system.svc.conversations.threads(account.id)
        return [t.title for t in threads] == ["Alice"]

    await eventually(titled)


async def test_modem_state_reaches_the_browser_view(system: System) -> None:
    from server.ws.device_views import device_views

    account = await system.svc.accounts.by_phone(PHONE1)
    assert account is not None

    async def reported() -> bool:
        (view,) = await device_views(system.svc, account.id)
        return view.online and view.operator is not None and view.signal_dbm is not None

    await eventually(reported)
    (view,) = await device_views(system.svc, account.id)
    assert view.lines == [PHONE1] and view.signal_dbm < 0
