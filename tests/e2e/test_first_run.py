"""``ferry serve`` and ``ferry admin pairing-code`` as an operator meets them on a machine
where other programs already hold ports: a taken port is one sentence, and a pairing
code names the address the server in that data directory actually serves."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

import argon2
import pytest

from protocol.pairing import parse_pairing_uri
from server import cli
from server.admin import create_account
from server.config import Config
from server.listening import FILE_NAME
from tests.e2e.conftest import eventually
from tests.e2e.procs import Proc
from tests.ports import held_ports

pytestmark = pytest.mark.e2e

PHONE = "+15550100001"


def test_serve_says_in_one_sentence_that_its_port_is_taken(tmp_path: Path) -> None:
    with held_ports() as (taken,):
        done = subprocess.run(
            [sys.executable, "-m", "server", "serve", "--data-dir", str(tmp_path / "data")],
            env={**os.environ, "FERRY_PORT": str(taken)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode != 0
    (sentence,) = done.stderr.splitlines()  # no traceback, no start-up logging
    assert sentence.startswith("ferry: ") and f"port {taken} " in sentence
    assert "--port" in sentence and "FERRY_PORT" in sentence
    assert not (tmp_path / "data").exists()  # refused before creating keys or a database


def _pairing_url(capsys: pytest.CaptureFixture[str], data: Path) -> tuple[str, str]:
    code = cli.main(["admin", "pairing-code", "--phone", PHONE, "--data-dir", str(data)])
    out, err = capsys.readouterr()
    assert code == 0, err
    uri = next(line.split()[-1] for line in out.splitlines() if line.startswith("Pairing URI"))
    return parse_pairing_uri(uri).server_url, err


async def test_pairing_code_names_where_the_server_of_the_data_dir_listens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.delenv("FERRY_PUBLIC_URL", raising=False)
    config = Config(data_dir=data, password_params=argon2.profiles.CHEAPEST)
    await create_account(config, PHONE, "a long enough password", verified=True)
    log = tmp_path / "serve.log"
    server = Proc(
        [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir", str(data)], log
    )
    await server.start()
    try:
        served: list[str] = []

        def announced() -> bool:
            served[:] = re.findall(r"Ferry server on (\S+)", log.read_text())
            return bool(served)

        await eventually(announced, 30)
        url, err = await asyncio.to_thread(_pairing_url, capsys, data)
        assert url == served[0] and not url.endswith(":8080") and err == ""
        monkeypatch.setenv("FERRY_PUBLIC_URL", "https://ferry.example")
        assert (await asyncio.to_thread(_pairing_url, capsys, data))[0] == "https://ferry.example"
        monkeypatch.delenv("FERRY_PUBLIC_URL")
    finally:
        await server.stop()
    assert server.proc is not None and server.proc.returncode == 0
    assert not (data / FILE_NAME).exists()  # a clean stop takes the record along
    url, err = await asyncio.to_thread(_pairing_url, capsys, data)
    assert url == "http://127.0.0.1:8080"  # where these settings would listen, and it says so
    assert "no server is running" in err and "--server-url" in err


async def test_pairing_code_does_not_trust_the_record_of_a_killed_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    monkeypatch.delenv("FERRY_PUBLIC_URL", raising=False)
    config = Config(data_dir=data, password_params=argon2.profiles.CHEAPEST)
    await create_account(config, PHONE, "a long enough password", verified=True)
    log = tmp_path / "serve.log"
    server = Proc(
        [sys.executable, "-m", "server", "serve", "--port", "0", "--data-dir", str(data)], log
    )
    await server.start()
    try:
        await eventually(lambda: "Ferry server on" in log.read_text(), 30)
    finally:
        await server.kill()
    assert (data / FILE_NAME).exists()  # left behind by the killed process
    url, err = await asyncio.to_thread(_pairing_url, capsys, data)
    assert url == "http://127.0.0.1:8080" and "no server is running" in err
