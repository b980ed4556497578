"""JSON logs (``FERRY_LOG_FORMAT=json``): one object per line for every logger, with the
same discipline as the text lines: never bodies, codes, passwords, cookies or queries."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestServer

from protocol.link import generate_keypair
from protocol.messages import Ack, InboundSms, Upload
from server.api.common import SERVICES
from server.app import create_app
from server.config import Config, ConfigError
from server.log import MAX_MESSAGE, JsonFormatter, quiet_libraries
from server.net import RUNNER_ARGS
from tests.fakes.clock import FakeClock
from tests.fakes.sms import FakeSms
from tests.server.conftest import PASSWORD, PHONE, Env, origin_of

T = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
NEW = "+15550100077"
INBOUND_BODY = "inbound body that must stay out of every log"
OUTBOUND_BODY = "outbound body that must stay out of every log"
SEARCH = "searchtermthatmuststayout"


@pytest.fixture
async def env(aiohttp_client: Any, config: Config, clock: FakeClock) -> AsyncIterator[Env]:
    """conftest's ``env``, served as ``ferry serve`` serves (no aiohttp access log, the
    same runner arguments), so the log holds what production writes."""
    app = create_app(config, clock=clock)
    server = TestServer(app)
    await server.start_server(access_log=None, **RUNNER_ARGS)
    client = await aiohttp_client(server)
    client.session.headers["Origin"] = origin_of(client)
    svc = client.app[SERVICES]
    sms = FakeSms()
    svc.verification.gateway = sms
    now = clock.now()
    account_id = await svc.accounts.create(
        PHONE, svc.passwords.hash(PASSWORD), now, verified_at=now
    )
    private, public = generate_keypair()
    device_id = await svc.devices.create(account_id, "test bridge", public, now)
    env = Env(client, svc, clock, account_id, device_id, private, sms)
    yield env
    await env.close()


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Everything logged anywhere (DEBUG and up), formatted as ``FERRY_LOG_FORMAT=json``."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    quiet_libraries()  # as setup_logging does
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_a_message_and_a_verification_code_never_reach_the_log(
    env: Env, json_log: io.StringIO
) -> None:
    code = await env.signup(NEW)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert (await env.client.post("/api/v1/me/phone/verify", json={"code": wrong})).status == 400
    assert (await env.client.post("/api/v1/me/phone/verify", json={"code": code})).status == 200
    cookie = env.session_cookie()
    await env.login()  # the bridge's account
    cookie2 = env.session_cookie()
    dev = await env.device()
    item = InboundSms(
        n=1, key="k1", sender="+15550100002", body=INBOUND_BODY, sent_at=T.isoformat()
    )
    await dev.send(Upload(items=[item]))
    assert await dev.recv() == Ack(upto=1)
    resp = await env.client.post(
        "/api/v1/messages",
        json={"to": "+15550100002", "body": OUTBOUND_BODY, "client_msg_id": "c1"},
    )
    assert resp.status == 201
    assert (await env.client.get(f"/api/v1/search?q={SEARCH}")).status == 200
    assert (await env.client.get("/api/v1/threads/1/messages?before=x")).status == 400
    # A request aiohttp cannot parse is logged by aiohttp's own logger, in one line.
    reader, writer = await asyncio.open_connection(env.client.host, env.client.port)
    writer.write(
        f"GET /?q={SEARCH} HTTP/1.1\r\nHost: x\r\nContent-Length: {code}x\r\n\r\n".encode()
    )
    await reader.read()  # the server answers 400 and closes
    writer.close()
    await dev.close()
    await env.svc.background.drain()

    text = json_log.getvalue()
    lines = text.splitlines()
    assert lines, "nothing was logged"
    for line in lines:
        record = json.loads(line)
        assert {"time", "level", "logger", "message"} <= set(record), record
        assert record["time"].endswith("+00:00")
    loggers = {json.loads(line)["logger"] for line in lines}
    assert {"ferry.server.device.1", "ferry.server.http"} <= loggers, loggers
    for secret in (INBOUND_BODY, OUTBOUND_BODY, code, wrong, cookie, cookie2, PASSWORD, SEARCH):
        assert secret not in text, secret


def test_a_record_becomes_one_json_object_with_its_structured_fields() -> None:
    logger = logging.getLogger("ferry.server.device.42")
    record = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "refused %d item(s)",
        (3,),
        None,
        extra={"account_id": 7, "reason": object()},
    )
    out = json.loads(JsonFormatter().format(record))
    assert out["level"] == "WARNING" and out["logger"] == "ferry.server.device.42"
    assert out["message"] == "refused 3 item(s)"
    assert (out["device_id"], out["account_id"]) == (42, 7)
    assert isinstance(out["reason"], str)  # anything else is written as text
    try:
        raise ValueError("boom")
    except ValueError:
        failed = logger.makeRecord(
            logger.name, logging.ERROR, __file__, 1, "x" * 9000, (), sys.exc_info()
        )
    out = json.loads(JsonFormatter().format(failed))
    assert len(out["message"]) == MAX_MESSAGE
    assert "ValueError: boom" in out["exception"]
    assert "\n" not in JsonFormatter().format(failed)  # one line, whatever it holds


def test_ferry_log_format_json_formats_every_logger_including_aiohttps() -> None:
    script = (
        "import logging; from server.log import setup_logging; setup_logging('INFO', 'json');"
        "logging.getLogger('aiohttp.server').error('aiohttp line');"
        "logging.getLogger('ferry.server').info('ferry line')"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    records = [json.loads(line) for line in run.stderr.splitlines()]
    assert [(r["logger"], r["message"]) for r in records] == [
        ("aiohttp.server", "aiohttp line"),
        ("ferry.server", "ferry line"),
    ]


def test_the_log_format_is_checked_in_the_configuration() -> None:
    assert Config.from_env({"FERRY_LOG_FORMAT": "JSON"}).log_format == "json"
    assert Config.from_env({}).log_format == "text"
    with pytest.raises(ConfigError, match="FERRY_LOG_FORMAT"):
        Config.from_env({"FERRY_LOG_FORMAT": "xml"})
