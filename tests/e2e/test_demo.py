"""`ferry demo` as a user runs it: a process group that Ctrl-C stops cleanly."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from device_bridge.emulator.run import run_emulator
from server.config import Config
from tests.e2e.conftest import eventually, free_port
from tests.ports import held_ports

TERMS = Config.terms_version  # the terms a sign-up accepts

ONE, TWO = "+15550100001", "+15550100002"


@dataclass
class Demo:
    proc: asyncio.subprocess.Process
    output: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.output)

    async def banner(self) -> str:
        await eventually(lambda: "Ctrl-C stops everything" in self.text, 60)
        return self.text

    async def ctrl_c(self) -> None:
        """Ctrl-C in the terminal: SIGINT to the whole group, which must end cleanly."""
        os.killpg(self.proc.pid, signal.SIGINT)
        assert await asyncio.wait_for(self.proc.wait(), 20) == 0
        try:
            os.killpg(self.proc.pid, 0)
            raise AssertionError("demo processes still running after Ctrl-C")
        except ProcessLookupError:
            pass


@asynccontextmanager
async def demo(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> AsyncIterator[Demo]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "demo",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
        cwd=cwd,
        env=env,
    )
    running = Demo(proc)

    async def pump() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            running.output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(pump())
    try:
        yield running
        await reader
        assert "Traceback" not in running.text, running.text
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        reader.cancel()


async def test_demo_runs_relays_both_ways_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, control = free_port(), free_port()
    async with demo(
        "--port",
        str(port),
        "--control-port",
        str(control),
        "--contact-interval",
        "0.5",
        "--data-dir",
        str(tmp_path / "demo"),
    ) as running:
        banner = await running.banner()
        assert f"http://127.0.0.1:{port}" in banner and "password ferry-demo" in banner
        assert "is taken" not in banner
        url = f"http://127.0.0.1:{port}"
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            login = {"phone": ONE, "password": "ferry-demo"}
            async with http.post(f"{url}/api/v1/session", json=login) as resp:
                assert resp.status == 200

            async def contact_texted() -> bool:
                async with http.get(f"{url}/api/v1/threads") as resp:
                    threads = (await resp.json())["threads"]
                return any(t["peer"] == TWO for t in threads)

            await eventually(contact_texted, 20)
            send = {"to": TWO, "body": "demo reply", "client_msg_id": "d1"}
            async with http.post(f"{url}/api/v1/messages", json=send) as resp:
                assert resp.status == 201

            async def phone2_got_it() -> bool:
                api = f"http://127.0.0.1:{control}/phones/{TWO}/messages"
                async with http.get(api) as resp:
                    return any(m["text"] == "demo reply" for m in await resp.json())

            await eventually(phone2_got_it, 20)

            # A fresh sign-up in the demo gets its code on the virtual phone (emulator
            # gateway) and verifies with it.
            signup = {"phone": TWO, "password": "phone two password", "accept_terms": TERMS}
            async with http.post(f"{url}/api/v1/accounts", json=signup) as resp:
                assert resp.status == 202
            async with http.post(f"{url}/api/v1/session", json=signup) as resp:
                assert resp.status == 200
            codes: list[str] = []

            async def code_arrived() -> bool:
                api = f"http://127.0.0.1:{control}/phones/{TWO}/messages"
                async with http.get(api) as resp:
                    codes[:] = [
                        m["text"].rsplit("#", 1)[1] for m in await resp.json() if "#" in m["text"]
                    ]
                return bool(codes)

            await eventually(code_arrived, 20)
            async with http.post(f"{url}/api/v1/me/phone/verify", json={"code": codes[-1]}) as r:
                assert r.status == 200
        await running.ctrl_c()


async def _ctl(cwd: Path, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_bridge",
        "emulate",
        "ctl",
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_demo_where_its_ports_are_taken_picks_free_ones_and_ctl_finds_its_emulator(
    tmp_path: Path,
) -> None:
    """The newcomer's machine: another program on the server's port, somebody else's
    emulator (same phone numbers) on the control port; `make run` with no flags."""
    env = {k: v for k, v in os.environ.items() if k != "FERRY_EMULATOR_URL"}
    async with await run_emulator([ONE, TWO], control_port=0) as other:
        other_port = int(other.control_url.rsplit(":", 1)[1])
        with held_ports() as (taken,):
            env |= {"FERRY_PORT": str(taken), "FERRY_EMULATOR_PORT": str(other_port)}
            async with demo("--contact-interval", "60", cwd=tmp_path, env=env) as running:
                banner = await running.banner()
                assert f"Port {taken} is taken" in banner and "FERRY_PORT" in banner
                assert f"Port {other_port} is taken" in banner
                assert "FERRY_EMULATOR_PORT" in banner
                (url,) = re.findall(r"Open +(\S+)", banner)
                assert url.startswith("http://127.0.0.1:") and not url.endswith(f":{taken}")
                async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
                    login = {"phone": ONE, "password": "ferry-demo"}
                    async with http.post(f"{url}/api/v1/session", json=login) as resp:
                        assert resp.status == 200
                    async with http.get(url) as resp:
                        assert resp.status == 200 and "<html" in (await resp.text()).lower()

                # `ferry emulate ctl` from where `make run` ran finds the demo's emulator
                # (var/demo/emulator.json), not the one on the well-known port.
                state = json.loads((tmp_path / "var/demo/emulator.json").read_text())
                code, out, err = await _ctl(tmp_path, env, "phones")
                assert code == 0, err
                assert [p["pty"] for p in json.loads(out)] == [p["pty"] for p in state["phones"]]
                code, out, err = await _ctl(
                    tmp_path, env, "inject", TWO, "--from", "+447700900123", "for the demo"
                )
                assert code == 0, err
                assert other.phone(TWO).modem.received == []
                code, out, err = await _ctl(tmp_path, env, "messages", TWO)
                assert [m["text"] for m in json.loads(out)] == ["for the demo"]
                await running.ctrl_c()
    assert not (tmp_path / "var/demo/emulator.json").exists()
    code, out, err = await _ctl(tmp_path, env, "phones")
    assert code == 2 and "cannot tell which emulator" in err
