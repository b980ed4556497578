"""`ferry demo` as a user runs it: a process group that Ctrl-C stops cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from aiohttp import ClientSession, CookieJar

from tests.e2e.conftest import eventually, free_port


async def test_demo_runs_relays_both_ways_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port, control = free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "demo",
        "--port",
        str(port),
        "--control-port",
        str(control),
        "--contact-interval",
        "0.5",
        "--data-dir",
        str(tmp_path / "demo"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    output: list[str] = []

    async def pump() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            output.append(line.decode(errors="replace"))

    reader = asyncio.create_task(pump())
    try:
        await eventually(lambda: any("Ctrl-C stops everything" in line for line in output), 30)
        banner = "".join(output)
        assert f"http://127.0.0.1:{port}" in banner and "password ferry-demo" in banner
        url = f"http://127.0.0.1:{port}"
        async with ClientSession(cookie_jar=CookieJar(unsafe=True)) as http:
            login = {"phone": "+15550100001", "password": "ferry-demo"}
            async with http.post(f"{url}/api/v1/session", json=login) as resp:
                assert resp.status == 200

            async def contact_texted() -> bool:
                async with http.get(f"{url}/api/v1/threads") as resp:
                    threads = (await resp.json())["threads"]
                return any(t["peer"] == "+15550100002" for t in threads)

            await eventually(contact_texted, 20)
            send = {"to": "+15550100002", "body": "demo reply", "client_msg_id": "d1"}
            async with http.post(f"{url}/api/v1/messages", json=send) as resp:
                assert resp.status == 201

            async def phone2_got_it() -> bool:
                api = f"http://127.0.0.1:{control}/phones/+15550100002/messages"
                async with http.get(api) as resp:
                    return any(m["text"] == "demo reply" for m in await resp.json())

            await eventually(phone2_got_it, 20)

            # A fresh sign-up in the demo gets its code on the virtual phone (emulator
            # gateway) and verifies with it.
            signup = {"phone": "+15550100002", "password": "phone two password"}
            async with http.post(f"{url}/api/v1/accounts", json=signup) as resp:
                assert resp.status == 202
            async with http.post(f"{url}/api/v1/session", json=signup) as resp:
                assert resp.status == 200
            codes: list[str] = []

            async def code_arrived() -> bool:
                api = f"http://127.0.0.1:{control}/phones/+15550100002/messages"
                async with http.get(api) as resp:
                    codes[:] = [
                        m["text"].rsplit("#", 1)[1] for m in await resp.json() if "#" in m["text"]
                    ]
                return bool(codes)

            await eventually(code_arrived, 20)
            async with http.post(f"{url}/api/v1/me/phone/verify", json={"code": codes[-1]}) as r:
                assert r.status == 200
        os.killpg(proc.pid, signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
        await reader
        text = "".join(output)
        assert "Traceback" not in text, text
        # Nothing of the group is left behind.
        try:
            os.killpg(proc.pid, 0)
            raise AssertionError("demo processes still running after Ctrl-C")
        except ProcessLookupError:
            pass
    finally:
        if proc.returncode is None:
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        reader.cancel()
