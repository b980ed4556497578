"""Schemathesis fuzzes every operation of the OpenAPI document the server serves, signed
in, against the real app over loopback: valid and invalid inputs alike, no answer is a 5xx.

A case that may have ended the session (sign-out, revocation, any 401) is followed by a
fresh one, made in the session store as a sign-in would make it, so the rest stay signed in.
The examples are derandomised and bounded, so a run is repeatable and takes about a
minute on two cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import argon2
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from server.api.openapi import PATHS
from server.auth.web import DEV_COOKIE, new_session_id
from server.config import Config
from server.services import Services
from tests.server.live import LiveServer

PHONE = "+15550100001"
PASSWORD = "correct horse battery"
EXAMPLES = 25  # per operation and generation mode

OPERATIONS = [(method.upper(), path) for path, ops in PATHS.items() for method in ops]


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


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz") / "var"
    config = Config(data_dir=data_dir, password_params=argon2.profiles.CHEAPEST)
    with LiveServer(config) as server:
        yield server, server.run(_seed)


@pytest.fixture(scope="module")
def schema(live: tuple[LiveServer, int]) -> schemathesis.BaseSchema:
    server, _ = live
    return schemathesis.openapi.from_url(f"{server.url}/api/v1/openapi.json")


def _new_session(server: LiveServer, account_id: int) -> str:
    sid = new_session_id()

    async def create(svc: Services) -> None:
        await svc.sessions.create(sid, account_id, svc.clock.now(), "fuzz", "127.0.0.1")

    server.run(create)
    return sid


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx(
    live: tuple[LiveServer, int], schema: schemathesis.BaseSchema, method: str, path: str
) -> None:
    server, account_id = live
    operation = schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    http = requests.Session()
    session = [_new_session(server, account_id)]

    @settings(
        max_examples=2 * EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: schemathesis.Case) -> None:
        cookies = {DEV_COOKIE: session[0]}
        response = case.call(base_url=server.url, session=http, cookies=cookies, timeout=30)
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} answered {response.status_code}: "
            f"{response.text[:300]}\n{case.as_curl_command()}"
        )
        if response.status_code == 401 or (case.method == "DELETE" and "session" in case.path):
            session[0] = _new_session(server, account_id)  # this case may have ended it

    try:
        check()
    finally:
        http.close()
