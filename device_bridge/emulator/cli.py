"""``emulate``: run the virtual GSM network until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import logging
import os
import signal
import sys
from pathlib import Path

from .profiles import PROFILES
from .run import default_numbers, run_emulator

#: The control API's port unless FERRY_EMULATOR_PORT or --control-port say otherwise.
DEFAULT_CONTROL_PORT = 8091

__all__ = ["build_parser", "main"]


def build_parser(prog: str = "emulate") -> argparse.ArgumentParser:
    """The ``emulate`` command line."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Virtual GSM modems on ptys, with a control API."
    )
    parser.add_argument("--phones", type=int, default=2, help="how many phones (default 2)")
    parser.add_argument(
        "--numbers",
        nargs="+",
        metavar="E164",
        help="phone numbers (default +15550100001, +15550100002, …)",
    )
    parser.add_argument(
        "--profile",
        action="append",
        default=[],
        metavar="[NUMBER=]NAME",
        help=f"quirk profile, for all phones or one ({', '.join(PROFILES)})",
    )
    parser.add_argument(
        "--control-host",
        default="127.0.0.1",
        help="address of the control API (default 127.0.0.1; keep it local)",
    )
    parser.add_argument(
        "--control-port",
        type=_port,
        default=None,
        help="port of the control API (default: FERRY_EMULATOR_PORT, else "
        f"{DEFAULT_CONTROL_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--free-port-if-taken",
        action="store_true",
        help="when the control port is taken, use a free one (printed, and "
        "written to the state file)",
    )
    parser.add_argument(
        "--contact-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="a scripted contact texts phone 1 this often",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="write the control URL and pty paths here (JSON)",
    )
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    numbers = args.numbers or default_numbers(args.phones)
    try:
        profiles = _profiles(args.profile, numbers)
        if args.control_port is None:
            args.control_port = _env_port()
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(_serve(args, numbers, profiles))
    except OSError as exc:
        print(f"ferry emulate: {_bind_problem(args, exc)}", file=sys.stderr, flush=True)
        return 1
    except ValueError as exc:
        print(f"ferry emulate: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _env_port() -> int:
    text = os.environ.get("FERRY_EMULATOR_PORT")
    if text is None:
        return DEFAULT_CONTROL_PORT
    try:
        return _port(text)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"FERRY_EMULATOR_PORT: {exc}") from None


def _bind_problem(args: argparse.Namespace, exc: OSError) -> str:
    """One sentence for an emulator that could not start (its control API, mostly)."""
    where = f"port {args.control_port} on {args.control_host}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} (the control API) is already in use; choose another with "
            "--control-port or FERRY_EMULATOR_PORT, or add --free-port-if-taken"
        )
    if exc.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
        return f"cannot listen on {where} ({os.strerror(exc.errno).lower()})"
    return f"cannot start ({exc})"


def _profiles(options: list[str], numbers: list[str]) -> dict[str, str]:
    chosen: dict[str, str] = {}
    for option in options:
        number, _, name = option.rpartition("=")
        if name not in PROFILES:
            raise ValueError(f"unknown profile {name!r}")
        for target in [number] if number else numbers:
            chosen[target] = name
    return chosen


async def _serve(args: argparse.Namespace, numbers: list[str], profiles: dict[str, str]) -> None:
    emulator = await run_emulator(
        numbers,
        control_host=args.control_host,
        control_port=args.control_port,
        free_port_if_taken=args.free_port_if_taken,
        contact_interval=args.contact_interval,
        state_file=args.state_file,
        profiles=profiles,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        print(f"control API {emulator.control_url}", flush=True)
        for phone in emulator.phones:
            print(f"phone {phone.number} {phone.pty} ({phone.modem.profile.name})", flush=True)
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await emulator.close()
