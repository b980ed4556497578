"""Staff access: every look into an account needs a reason and is written to the
hash-chained audit log, which the user reads as "Access history"; message contents only
with the user's time-limited grant; tampering is found by ``ferry admin audit verify``.
Both backends (the command line in a worker thread, on the test's database)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from server import cli
from server.admin import AdminError
from server.admin_privacy import inspect, read_messages
from server.storage.conversations import Inbound
from server.storage.masking import MASK
from tests.server.conftest import PHONE, Env

REASON = "ticket 4711: messages do not arrive"


async def test_every_look_needs_a_reason_and_the_user_sees_it(env: Env) -> None:
    config, clock = env.svc.config, env.clock
    with pytest.raises(AdminError, match="reason"):
        await inspect(config, PHONE, "because", "alice", clock)
    found = await inspect(config, PHONE, REASON, "alice", clock)
    assert found.account.id == env.account_id and found.stored.messages == 0
    await env.login()
    history = (await (await env.client.get("/api/v1/me/access-history")).json())["accesses"]
    assert [(a["operator"], a["action"], a["reason"]) for a in history] == [
        ("alice", "inspect", REASON)
    ]


async def test_contents_only_with_the_users_time_limited_grant(env: Env) -> None:
    config, clock = env.svc.config, env.clock
    (line,) = await env.svc.lines.for_account(env.account_id)
    now = clock.now()
    await env.svc.conversations.ingest_inbound(
        env.account_id,
        env.device_id,
        [Inbound("k1", line.id, "+15550177777", "my card is blocked", now)],
        now,
    )
    with pytest.raises(AdminError, match="not granted"):
        await read_messages(config, PHONE, REASON, "bob", clock=clock)

    await env.login()
    resp = await env.client.patch("/api/v1/me/privacy", json={"troubleshoot_hours": 2})
    assert (await resp.json())["settings"]["troubleshoot_until"] is not None
    (m,) = await read_messages(config, PHONE, REASON, "bob", clock=clock)
    assert m.body == "my card is blocked"
    # A masked message stays masked for operators too.
    assert (await env.client.post(f"/api/v1/messages/{m.id}/mask")).status == 204
    (m,) = await read_messages(config, PHONE, REASON, "bob", clock=clock)
    assert m.body == MASK
    # The grant ends by itself.
    clock.advance(timedelta(hours=2, seconds=1).total_seconds())
    with pytest.raises(AdminError, match="not granted"):
        await read_messages(config, PHONE, REASON, "bob", clock=clock)
    history = (await (await env.client.get("/api/v1/me/access-history")).json())["accesses"]
    assert [a["action"] for a in history] == [
        "read_messages_refused",
        "read_messages",
        "read_messages",
        "read_messages_refused",
    ]
    events = (await (await env.client.get("/api/v1/me/security-events")).json())["events"]
    assert "troubleshooting_granted" in {e["kind"] for e in events}


async def _cli(env: Env, monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setenv("FERRY_DATA_DIR", str(env.svc.config.data_dir))
    if env.svc.config.database_url:
        monkeypatch.setenv("FERRY_DATABASE_URL", env.svc.config.database_url)
    return await asyncio.to_thread(cli.main, list(args))


async def test_audit_log_is_append_only_and_verify_names_the_altered_row(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):  # no --reason: argparse refuses
        await _cli(env, monkeypatch, "admin", "inspect", "--phone", PHONE)
    for n in range(3):
        code = await _cli(
            env, monkeypatch, "admin", "inspect", "--phone", PHONE,
            "--reason", f"{REASON} #{n}", "--operator", "carol",
        )  # fmt: skip
        assert code == 0
    out = capsys.readouterr().out
    assert "Message contents are not shown" in out
    assert await _cli(env, monkeypatch, "admin", "audit", "verify") == 0
    assert "intact: 3 row(s)" in capsys.readouterr().out

    engine = env.svc.engine
    postgres = engine.dialect.name == "postgresql"
    with pytest.raises(DBAPIError):  # the database itself refuses a change
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE staff_access SET reason = 'nothing' WHERE id = 2"))
    # Someone with the database's own keys goes around the trigger: verify still sees it.
    async with engine.begin() as conn:
        if postgres:
            await conn.execute(text("ALTER TABLE staff_access DISABLE TRIGGER USER"))
        else:
            await conn.execute(text("DROP TRIGGER staff_access_no_update"))
        await conn.execute(text("UPDATE staff_access SET reason = 'routine check' WHERE id = 2"))
    assert await _cli(env, monkeypatch, "admin", "audit", "verify") == 1
    err = capsys.readouterr().err
    assert "tampered with at row 2" in err and "1 rows before it are intact" in err
