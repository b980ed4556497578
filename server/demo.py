"""``ferry demo``: the whole system on one machine, in one process group.

This process runs the sync server; the virtual GSM network and the device bridge run as
child processes (the bridge talks to phone 1 over a real pseudo-terminal with the real AT
driver, exactly as it would to a USB modem). The bridge pairs the way a user's does: the
demo creates a pairing code and runs ``device_bridge pair <uri>`` before ``run`` (again
only when its saved pairing no longer fits this server). Ctrl-C reaches the whole group;
everything stops cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import sys
from pathlib import Path

from protocol.link import public_key
from protocol.pairing import decode_credentials
from server.admin import (
    create_pairing_code,
    device_active,
    ensure_account,
    revoke_all_devices,
)
from server.cli import run_server
from server.config import Config
from server.keys import load_server_key
from server.log import server_logger

DEMO_PASSWORD = "ferry-demo"  # noqa: S105 - loopback-only demo account, printed on screen


async def _wait_for_file(path: Path, proc: asyncio.subprocess.Process, wait_s: float) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise RuntimeError("the emulator exited during start-up")
        with contextlib.suppress(FileNotFoundError, ValueError):
            return json.loads(path.read_text())  # noqa: ASYNC240 - tiny local file
        await asyncio.sleep(0.1)
    raise RuntimeError("the emulator did not start in time")


async def run_demo(config: Config, *, control_port: int, contact_interval: float) -> int:
    data = config.data_dir
    data.mkdir(parents=True, exist_ok=True)
    state_file = data / "emulator.json"
    state_file.unlink(missing_ok=True)
    stop = asyncio.Event()
    received: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    py = [sys.executable, "-m", "device_bridge"]
    children: list[asyncio.subprocess.Process] = []
    emulator = await asyncio.create_subprocess_exec(
        *py,
        "emulate",
        "--phones",
        "2",
        "--control-port",
        str(control_port),
        "--contact-interval",
        str(contact_interval),
        "--state-file",
        str(state_file),
    )
    children.append(emulator)
    try:
        state = await _wait_for_file(state_file, emulator, 20)
        phone1, phone2 = state["phones"][0], state["phones"][1]
        await ensure_account(config, phone1["number"], DEMO_PASSWORD)
        bridge_dir = data / "bridge"
        url = f"http://{config.host}:{config.port}"
        offer = None
        if not await _still_paired(config, bridge_dir, url):
            # A fresh key each time the old pairing does not fit; the old device goes.
            await revoke_all_devices(config, phone1["number"])
            offer = await create_pairing_code(config, phone1["number"], url)
        server = asyncio.create_task(run_server(config, stop))
        await asyncio.sleep(0.3)
        if server.done():
            await server  # raises the start-up error (e.g. port in use)
        if offer is not None:
            await _pair(py, offer.uri, bridge_dir)
        bridge = await asyncio.create_subprocess_exec(
            *py,
            "run",
            "--data-dir",
            str(bridge_dir),
            "--port",
            phone1["pty"],
            "--journal",
            str(data / "bridge" / "journal.db"),
        )
        children.append(bridge)
        _banner(url, phone1, phone2, state.get("control"))
        waiters = [asyncio.create_task(c.wait()) for c in children]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            server_logger.error("a demo component exited; stopping the demo")
        stop.set()
        await server
        return 0
    finally:
        # Ctrl-C reached the whole process group: the children are already stopping, and
        # a second signal could hit them mid-exit. Give them time before terminating.
        await _stop_children(children, grace=10.0 if signal.SIGINT in received else 0.0)


async def _still_paired(config: Config, bridge_dir: Path, url: str) -> bool:
    """Does the bridge's saved pairing point at this server with a live device key?"""
    try:
        creds = decode_credentials((bridge_dir / "device.json").read_bytes())
        private = base64.b64decode((bridge_dir / "device.key").read_bytes().strip())
        key = public_key(private)
    except Exception:
        return False
    server_key = public_key(load_server_key(config))
    if creds.server_url != url or creds.server_public != server_key:
        return False
    return await device_active(config, key)


async def _pair(py: list[str], uri: str, bridge_dir: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *py,
        "pair",
        uri,
        "--data-dir",
        str(bridge_dir),
        "--name",
        "Demo modem (phone 1)",
        "--force",
    )
    if await asyncio.wait_for(proc.wait(), 60) != 0:
        raise RuntimeError("the demo bridge could not pair")


async def _stop_children(children: list[asyncio.subprocess.Process], grace: float) -> None:
    if grace:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in children)), grace)
    for proc in children:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
    for proc in children:
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def _banner(url: str, phone1: dict, phone2: dict, control: str | None) -> None:
    lines = [
        "",
        "  Ferry demo is running.",
        f"  Open      {url}",
        f"  Sign in   phone {phone1['number']}   password {DEMO_PASSWORD}",
        f"  Phone 1   {phone1['number']} on {phone1['pty']} (bridged)",
        f"  Phone 2   {phone2['number']} on {phone2['pty']} (texts phone 1 now and then)",
    ]
    if control:
        lines.append(f"  Emulator  {control}/phones  (inject SMS, read what phones received)")
    lines += ["  Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)
