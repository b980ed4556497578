"""``python -m device_bridge`` (also ``ferry bridge`` / ``ferry emulate``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from device_bridge.errors import BridgeError

DEFAULT_DIR = Path("var/bridge")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "emulate":
        from device_bridge.emulator.cli import main as emulate

        return emulate(argv[1:])
    parser = argparse.ArgumentParser(prog="ferry bridge", description="Ferry device bridge")
    sub = parser.add_subparsers(metavar="COMMAND")
    run = sub.add_parser("run", help="relay a modem's SMS to the server")
    run.add_argument("--port", required=True, help="serial device of the modem, e.g. /dev/ttyUSB2")
    run.add_argument("--baudrate", type=int, default=115200)
    run.add_argument("--pin", default=None, help="SIM PIN, if the SIM asks for one")
    run.add_argument("--credentials", type=Path, default=DEFAULT_DIR / "device.json")
    run.add_argument("--journal", type=Path, default=DEFAULT_DIR / "journal.db")
    run.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow plain ws:// to a non-loopback server (the link is then unencrypted)",
    )
    run.set_defaults(func=_run)
    status = sub.add_parser("status", help="what the local journal holds")
    status.add_argument("--journal", type=Path, default=DEFAULT_DIR / "journal.db")
    status.set_defaults(func=_status)
    sub.add_parser("emulate", help="run the virtual GSM network")
    ns = parser.parse_args(argv)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 2
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    try:
        return int(ns.func(ns) or 0)
    except BridgeError as exc:
        print(f"ferry bridge: {exc}", file=sys.stderr)
        return 1


def _run(ns: argparse.Namespace) -> int:
    from device_bridge.bridge import Bridge
    from device_bridge.credentials import load_credentials
    from device_bridge.drivers.serial import SerialModem
    from device_bridge.journal import Journal

    creds = load_credentials(ns.credentials)
    journal = Journal(ns.journal)
    modem = SerialModem(ns.port, baudrate=ns.baudrate, pin=ns.pin)
    bridge = Bridge(modem, journal, creds, allow_insecure=ns.allow_insecure)

    async def go() -> None:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await bridge.run()
        except asyncio.CancelledError:
            logging.getLogger("ferry.bridge").info("stopping")
        finally:
            await modem.close()
            journal.close()

    asyncio.run(go())
    return 0


def _status(ns: argparse.Namespace) -> int:
    from device_bridge.journal import Journal

    journal = Journal(ns.journal)
    try:
        print(f"inbound waiting for the server: {journal.inbound_count()}")
        for item in journal.unreported():
            print(f"outgoing {item.outbox_id}: {item.state} (server told: {item.reported or 'no'})")
    finally:
        journal.close()
    return 0
