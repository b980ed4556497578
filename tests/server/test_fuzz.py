"""Schemathesis fuzzes every operation of the OpenAPI document the server serves, signed
in, against the real app over loopback (``tests/server/live.py``): its examples,
coverage (each parameter's boundary values and just past them: ``before`` one over the
64-bit maximum, for one) and fuzzing phases, valid and invalid data; no answer may be a 5xx.

Sessions are made in the session store, as a sign-in makes them; schemathesis asks for a
new one after a 401 (a case signed out or revoked every session). The run is seeded and
bounded: repeatable, and under a minute on two cores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema

from server.api.openapi import PATHS
from server.auth.web import DEV_COOKIE, new_session_id
from server.config import Config
from server.services import Services
from tests.server.live import LiveServer

PHONE = "+15550100001"
PASSWORD = "correct horse battery"

SETTINGS = {
    "seed": 20261201,
    "checks": {"enabled": False, "not_a_server_error": {"enabled": True}},
    "phases": {
        "examples": {"enabled": True},
        "coverage": {"enabled": True},
        "fuzzing": {"enabled": True},
        "stateful": {"enabled": False},
    },
    "generation": {"max-examples": 25, "mode": "all"},
    "warnings": False,
}


async def _seed(svc: Services) -> int:
    """A verified account with a bridge and a conversation, so ids point at real rows."""
    now = svc.clock.now()
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now
    )
    await svc.devices.create(account_id, "bridge", bytes(32), now)
    line = (await svc.lines.for_account(account_id))[0]
    await svc.conversations.create_outgoing(
        account_id, line.id, "+15550100002", "hello", "seed-1", now
    )
    return account_id


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[LiveServer, int]]:
    config = Config(data_dir=tmp_path / "var", password_params=argon2.profiles.CHEAPEST)
    with LiveServer(config) as server:
        yield server, server.run(_seed)


@pytest.mark.timeout(600)
def test_no_operation_answers_5xx(live: tuple[LiveServer, int]) -> None:
    server, account_id = live

    def new_session() -> str:
        sid = new_session_id()

        async def create(svc: Services) -> None:
            await svc.sessions.create(sid, account_id, svc.clock.now(), "fuzz", "127.0.0.1")

        server.run(create)
        return sid

    schema = schemathesis.openapi.from_url(
        f"{server.url}/api/v1/openapi.json", config=SchemathesisConfig.from_dict(SETTINGS)
    )

    @schema.auth(refresh_interval=3600)
    class Session:
        def get(self, case: schemathesis.Case, context: Any) -> str:
            return new_session()

        def set(self, case: schemathesis.Case, data: str, context: Any) -> None:
            case.cookies = {**(case.cookies or {}), DEV_COOKIE: data}

    statuses: Counter[tuple[str, int]] = Counter()
    problems = []
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            for interaction in event.recorder.interactions.values():
                if interaction.response is not None:
                    status = interaction.response.status_code
                    statuses[event.recorder.label, status] += 1
                    if status >= 500:
                        problems.append(f"{status} from {interaction.request.uri}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"{event.label}: {event.info.message}")
    assert problems == []
    # Every operation was called, and signed in: the account's data came back.
    documented = {f"{m.upper()} {p}" for p, ops in PATHS.items() for m in ops}
    documented.remove("GET /api/v1/openapi.json")  # schemathesis leaves the schema alone
    assert {label for label, _ in statuses} == documented
    for label in ("GET /api/v1/threads", "GET /api/v1/me/security-events", "GET /api/v1/me"):
        assert statuses[label, 200] > 0, label
