"""``ferry demo``: the whole system on one machine, in one process group.

This process runs the sync server; the virtual GSM network and the device bridge run as
child processes (the bridge talks to phone 1 over a real pseudo-terminal with the real AT
driver, exactly as it would to a USB modem). The bridge pairs the way a user's does: the
demo creates a pairing code and runs ``device_bridge pair <uri>`` before ``run`` (again
only when its saved pairing no longer fits this server). A preferred port that another
program holds (the server's, the emulator's control API) is replaced by a free one, and
the banner says so and prints the URL to open. Ctrl-C reaches the whole group;
everything stops cleanly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import sys
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

from protocol.link import public_key
from protocol.pairing import decode_credentials
from server.admin import (
    create_pairing_code,
    device_active,
    ensure_account,
    revoke_all_devices,
)
from server.cli import Serving, start_server
from server.config import Config
from server.keys import load_server_key
from server.log import server_logger

DEMO_PASSWORD = "ferry-demo"  # noqa: S105 - loopback-only demo account, printed on screen
#: Where the demo keeps its state, unless --data-dir says otherwise.
DEFAULT_DATA_DIR = Path("var/demo")
#: The emulator's control API, unless FERRY_EMULATOR_PORT or --control-port say otherwise.
DEFAULT_CONTROL_PORT = 8091


class DemoError(Exception):
    """A part of the demo did not start; the message says which, in one sentence."""


async def _wait_for_file(path: Path, proc: asyncio.subprocess.Process, wait_s: float) -> dict:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while loop.time() < deadline:
        if proc.returncode is not None:
            raise DemoError("the virtual GSM network stopped during start-up (see above)")
        with contextlib.suppress(FileNotFoundError, ValueError):
            return json.loads(path.read_text())  # noqa: ASYNC240 - tiny local file
        await asyncio.sleep(0.1)
    raise DemoError(f"the virtual GSM network did not start within {wait_s:.0f} s")


async def run_demo(config: Config, *, control_port: int, contact_interval: float) -> int:
    """Run the demo until SIGINT/SIGTERM or until one of its parts exits.

    Args:
        config: The server's configuration; ``config.port`` is the preferred port.
        control_port: Preferred port of the emulator's control API.
        contact_interval: Seconds between the scripted contact's texts.

    Returns:
        The exit status (0 after a clean stop; 1 when a part failed to start).
    """
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
        "--free-port-if-taken",
        "--contact-interval",
        str(contact_interval),
        "--state-file",
        str(state_file),
    )
    children.append(emulator)
    serving: Serving | None = None
    try:
        state = await _wait_for_file(state_file, emulator, 20)
        phone1, phone2 = state["phones"][0], state["phones"][1]
        control = str(state["control"])
        config = replace(config, emulator_url=control)
        serving = await start_server(config, any_port_if_taken=True)
        url = serving.url
        await ensure_account(config, phone1["number"], DEMO_PASSWORD)
        bridge_dir = data / "bridge"
        if not await _still_paired(config, bridge_dir, url):
            # A fresh key each time the old pairing does not fit; the old device goes.
            await revoke_all_devices(config, phone1["number"])
            offer = await create_pairing_code(config, phone1["number"], url)
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
        control_now = urlsplit(control).port or 0
        notes = [
            _moved("server", config.port, serving.port, "FERRY_PORT"),
            _moved("emulator's control API", control_port, control_now, "FERRY_EMULATOR_PORT"),
        ]
        _banner(url, phone1, phone2, control, state_file, [n for n in notes if n])
        waiters = [asyncio.create_task(c.wait()) for c in children]
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopper, *waiters], return_when=asyncio.FIRST_COMPLETED)
        if stopper not in done:
            server_logger.error("a demo component exited; stopping the demo")
        return 0
    except DemoError as exc:
        print(f"ferry demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        if serving is not None:
            await serving.close()
        # Ctrl-C reached the whole process group: the children are already stopping, and
        # a second signal could hit them mid-exit. Give them time before terminating.
        await _stop_children(children, grace=10.0 if signal.SIGINT in received else 0.0)


def _moved(what: str, wanted: int, got: int, variable: str) -> str | None:
    """The sentence for a port that was taken, or None when the preferred one was free."""
    if wanted in (0, got):
        return None
    return f"Port {wanted} is taken, so the {what} uses {got} (set {variable} to choose)."


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
        raise DemoError("the demo bridge could not pair (see above)")


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


def _banner(
    url: str, phone1: dict, phone2: dict, control: str, state_file: Path, notes: list[str]
) -> None:
    lines = [
        "",
        "  Ferry demo is running.",
        *(f"  {note}" for note in notes),
        f"  Open      {url}",
        f"  Sign in   phone {phone1['number']}   password {DEMO_PASSWORD}",
        f"  Phone 1   {phone1['number']} on {phone1['pty']} (bridged)",
        f"  Phone 2   {phone2['number']} on {phone2['pty']} (texts phone 1 now and then)",
        f"  Emulator  {control}, for example:",
        f"            {_ctl(state_file)} messages {phone2['number']}",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _ctl(state_file: Path) -> str:
    """The ``ferry emulate ctl`` command line that finds this demo's emulator."""
    ferry = sys.argv[0] if Path(sys.argv[0]).name == "ferry" else "ferry"
    if state_file == DEFAULT_DATA_DIR / "emulator.json":
        return f"{ferry} emulate ctl"
    return f"{ferry} emulate ctl --state-file {state_file}"
