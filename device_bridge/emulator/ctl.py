"""``ferry emulate ctl``: drive a running emulator from the shell (a thin control-API client).

ferry emulate ctl phones
ferry emulate ctl inject +15550100001 --from +447700900123 "Hello there"
ferry emulate ctl send +15550100002 --to +15550100001 "Typed on phone 2"
ferry emulate ctl messages +15550100002
ferry emulate ctl faults +15550100001 hang=true send_delay=3

It talks to the emulator named by ``--control``, else ``FERRY_EMULATOR_URL``, else the
demo's: the state file ``ferry demo`` has its emulator write (``var/demo/emulator.json``).
That file is trusted only while its process runs and the emulator at its address lists
the same phones on the same ptys; otherwise ctl refuses instead of talking to whatever
answers on a well-known port (another user's emulator has the same phone numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

#: Where ``ferry demo`` (default data directory) has its emulator write its state.
DEMO_STATE = Path("var/demo/emulator.json")
_MAX_STATE = 64 * 1024  # bytes; a state file names a URL, a pid and a few phones


class EmulatorUnknown(Exception):
    """Which emulator to talk to cannot be told; the message says what to do."""


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        prog="ferry emulate ctl",
        description=__doc__.split("\n")[0],
        epilog="Which emulator: --control, else FERRY_EMULATOR_URL, else the demo's, found "
        "through its state file (checked: the emulator it names must be running and have "
        "the phones it lists). Without any of them ctl refuses rather than guess.",
    )
    p.add_argument("--control", default=None, metavar="URL", help="the emulator's control API")
    p.add_argument(
        "--state-file",
        type=Path,
        default=DEMO_STATE,
        help=f"the demo emulator's state file (default: {DEMO_STATE}; "
        "'ferry demo --data-dir D' writes D/emulator.json)",
    )
    sub = p.add_subparsers(dest="action", required=True)
    sub.add_parser("phones", help="numbers and pty paths")
    inject = sub.add_parser("inject", help="deliver an SMS to a phone from any number")
    inject.add_argument("number")
    inject.add_argument("--from", dest="sender", required=True)
    inject.add_argument("text")
    send = sub.add_parser("send", help="make a phone send an SMS, as its user would")
    send.add_argument("number")
    send.add_argument("--to", required=True)
    send.add_argument("text")
    msgs = sub.add_parser("messages", help="what a phone received")
    msgs.add_argument("number")
    faults = sub.add_parser("faults", help="show or set a phone's faults (key=value ...)")
    faults.add_argument("number")
    faults.add_argument("settings", nargs="*")
    ns = p.parse_args(argv)
    found: list[str] = []
    try:
        result = asyncio.run(_run(ns, found))
    except EmulatorUnknown as exc:
        print(f"ferry emulate ctl: {exc}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        where = found[0] if found else "the emulator"
        reason = str(exc) or "timed out"
        print(f"ferry emulate ctl: cannot reach {where}: {reason}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"ferry emulate ctl: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


async def _run(ns: argparse.Namespace, found: list[str]) -> Any:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        control = ns.control or os.environ.get("FERRY_EMULATOR_URL")
        if not control:
            control = await _demo_emulator(http, ns.state_file)
        control = control.rstrip("/")
        found.append(control)
        return await _call(http, control, ns)


async def _demo_emulator(http: aiohttp.ClientSession, path: Path) -> str:
    """The control URL in the demo's state file, once the emulator there proves to be it.

    Raises:
        EmulatorUnknown: No state file, a stale one, or another program at its address.
    """
    name_it = "name the emulator with --control URL or FERRY_EMULATOR_URL"
    try:
        with path.open("rb") as f:
            state = json.loads(f.read(_MAX_STATE))
        control, pid = str(state["control"]), int(state["pid"])
        phones = [(str(p["number"]), str(p["pty"])) for p in state["phones"]]
    except FileNotFoundError:
        raise EmulatorUnknown(
            f"cannot tell which emulator to use: no demo is running here ({path} does not "
            f"exist); start one with 'make run', or {name_it}"
        ) from None
    except (OSError, ValueError, KeyError, TypeError):
        raise EmulatorUnknown(
            f"cannot tell which emulator to use: {path} is unreadable; {name_it}"
        ) from None
    if not _process_exists(pid):
        raise EmulatorUnknown(
            f"{path} was left by an emulator that is no longer running (process {pid}); "
            f"start the demo again, or {name_it}"
        )
    try:
        listed = await _json(http.get(f"{control}/phones"))
        same = [(p["number"], p["pty"]) for p in listed] == phones
    except (aiohttp.ClientError, OSError, TimeoutError):
        raise EmulatorUnknown(
            f"the demo's emulator ({path}) does not answer at {control}; {name_it}"
        ) from None
    except (ValueError, KeyError, TypeError):
        same = False
    if not same:
        raise EmulatorUnknown(
            f"something else answers at {control}, not the emulator {path} describes; {name_it}"
        )
    return control


def _process_exists(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


async def _call(http: aiohttp.ClientSession, control: str, ns: argparse.Namespace) -> Any:
    phone = f"{control}/phones/{quote(getattr(ns, 'number', ''))}"
    if ns.action == "phones":
        return await _json(http.get(f"{control}/phones"))
    if ns.action == "inject":
        return await _json(http.post(f"{phone}/inject", json={"from": ns.sender, "text": ns.text}))
    if ns.action == "send":
        return await _json(http.post(f"{phone}/send", json={"to": ns.to, "text": ns.text}))
    if ns.action == "messages":
        return await _json(http.get(f"{phone}/messages"))
    if ns.settings:
        return await _json(http.post(f"{phone}/faults", json=_settings(ns.settings)))
    return await _json(http.get(f"{phone}/faults"))


async def _json(request: Any) -> Any:
    async with request as resp:
        body = await resp.json(content_type=None)
        if resp.status >= 400:
            raise ValueError(f"{resp.status}: {body}")
        return body


def _settings(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` words; values parsed as JSON when they are (true, 3, "x"), else text."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"expected key=value, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
