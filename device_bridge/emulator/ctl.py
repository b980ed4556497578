"""``ferry emulate ctl``: drive a running emulator from the shell (a thin control-API client).

ferry emulate ctl phones
ferry emulate ctl inject +15550100001 --from +447700900123 "Hello there"
ferry emulate ctl send +15550100002 --to +15550100001 "Typed on phone 2"
ferry emulate ctl messages +15550100002
ferry emulate ctl faults +15550100001 hang=true send_delay=3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any
from urllib.parse import quote

import aiohttp

DEFAULT_CONTROL = "http://127.0.0.1:8091"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="ferry emulate ctl", description=__doc__.split("\n")[0])
    p.add_argument("--control", default=DEFAULT_CONTROL, help="the emulator's control API")
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
    try:
        result = asyncio.run(_call(ns))
    except (aiohttp.ClientError, OSError) as exc:
        print(f"ferry emulate ctl: cannot reach {ns.control}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"ferry emulate ctl: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


async def _call(ns: argparse.Namespace) -> Any:
    phone = f"{ns.control}/phones/{quote(getattr(ns, 'number', ''))}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        if ns.action == "phones":
            return await _json(http.get(f"{ns.control}/phones"))
        if ns.action == "inject":
            return await _json(
                http.post(f"{phone}/inject", json={"from": ns.sender, "text": ns.text})
            )
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
