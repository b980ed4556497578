"""``python -m device_bridge`` (also ``ferry bridge`` / ``ferry emulate``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from device_bridge.errors import BridgeError

DEFAULT_DIR = Path("var/bridge")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["emulate", "ctl"]:
        from device_bridge.emulator.ctl import main as ctl

        return ctl(argv[2:])
    if argv and argv[0] == "emulate":
        from device_bridge.emulator.cli import main as emulate

        return emulate(argv[1:])
    parser = argparse.ArgumentParser(prog="ferry bridge", description="Ferry device bridge")
    sub = parser.add_subparsers(metavar="COMMAND")
    run = sub.add_parser("run", help="relay a modem's or an Android phone's SMS to the server")
    device = run.add_mutually_exclusive_group(required=True)
    device.add_argument("--port", help="serial device of the modem, e.g. /dev/ttyUSB2")
    device.add_argument(
        "--adb",
        nargs="?",
        const="",
        metavar="SERIAL",
        help="an Android phone over ADB (USB debugging on); SERIAL from 'adb devices', "
        "needed only when several are connected. Reads SMS and MMS; cannot send",
    )
    device.add_argument(
        "--termux",
        action="store_true",
        help="run on the phone itself, in Termux with Termux:API (reads SMS, sends)",
    )
    device.add_argument(
        "--sms-gateway",
        metavar="URL",
        help="the SMS Gateway for Android app's local server, e.g. http://192.168.1.20:8080 "
        "(user and password from FERRY_SMSGATE_USER / FERRY_SMSGATE_PASSWORD)",
    )
    run.add_argument(
        "--sim", type=int, default=None,
        help="the SIM to send from: slot 0/1 with --termux, 1/2 with --sms-gateway",
    )  # fmt: skip
    run.add_argument(
        "--webhook-listen", default="127.0.0.1:8765", metavar="HOST:PORT",
        help="where the bridge listens for the SMS Gateway app's webhooks",
    )  # fmt: skip
    run.add_argument(
        "--webhook-url", default=None,
        help="the URL the phone posts webhooks to (default: http://HOST:PORT/ferry-webhook)",
    )  # fmt: skip
    run.add_argument(
        "--poll-interval",
        type=float,
        default=None,
        help="seconds between inbox checks (default: 5 with --adb, 60 for a modem)",
    )
    run.add_argument("--baudrate", type=int, default=115200)
    run.add_argument("--pin", default=None, help="SIM PIN, if the SIM asks for one")
    run.add_argument(
        "--data-dir", type=Path, default=DEFAULT_DIR, help="where 'pair' put device.json/.key"
    )
    run.add_argument("--journal", type=Path, default=None, help="default: DATA_DIR/journal.db")
    run.add_argument(
        "--allow-insecure",
        action="store_true",
        help="allow plain ws:// to a non-loopback server (TLS is then missing; the Noise "
        "link still encrypts and authenticates)",
    )
    run.set_defaults(func=_run)
    pair = sub.add_parser(
        "pair",
        help="register this bridge with a pairing code",
        description="Pair with the pairing URI (from the QR code), or with the server URL "
        "and the typed code: ferry bridge pair https://host:8443 ABCD-EFGH-JKLM-NPQR-STUV",
    )
    pair.add_argument("target", help="pairing URI, or the server URL")
    pair.add_argument("code", nargs="?", default=None, help="the typed code (with a server URL)")
    pair.add_argument("--data-dir", type=Path, default=DEFAULT_DIR)
    pair.add_argument("--name", default=None, help="name shown in the web client")
    pair.add_argument(
        "--tls-fingerprint",
        default=None,
        help="SHA-256 of the server's self-signed certificate (printed by 'ferry serve')",
    )
    pair.add_argument(
        "--allow-insecure", action="store_true", help="allow plain http to a non-loopback server"
    )
    pair.add_argument("--force", action="store_true", help="replace an existing pairing")
    pair.set_defaults(func=_pair)
    status = sub.add_parser("status", help="what the local journal holds")
    status.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DIR,
        help="the bridge's data directory (default: var/bridge)",
    )
    status.add_argument("--journal", type=Path, default=None, help="default: DATA_DIR/journal.db")
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


from device_bridge.drivers.smsgate import SmsGateway  # noqa: E402


def _sms_gateway(ns: argparse.Namespace) -> SmsGateway:
    from device_bridge.drivers.webhooks import WebhookReceiver

    host, _, port = ns.webhook_listen.rpartition(":")
    hooks = WebhookReceiver(
        host or "127.0.0.1", int(port), public_url=ns.webhook_url,
        signing_key=os.environ.get("FERRY_SMSGATE_SIGNING_KEY"),
    )  # fmt: skip
    return SmsGateway(
        ns.sms_gateway, os.environ.get("FERRY_SMSGATE_USER", "sms"),
        os.environ.get("FERRY_SMSGATE_PASSWORD", ""), hooks, sim_number=ns.sim,
    )  # fmt: skip


def _run(ns: argparse.Namespace) -> int:
    from device_bridge.bridge import Bridge
    from device_bridge.credentials import load_identity
    from device_bridge.drivers.base import Modem
    from device_bridge.journal import Journal

    identity = load_identity(ns.data_dir)
    journal = Journal(ns.journal or ns.data_dir / "journal.db")
    modem: Modem
    if ns.adb is not None:
        from device_bridge.drivers.android import AdbPhone

        modem, poll = AdbPhone(ns.adb or None), 5.0
    elif ns.termux:
        from device_bridge.drivers.termux import TermuxPhone

        modem, poll = TermuxPhone(sim_slot=ns.sim), 30.0
    elif ns.sms_gateway:
        modem, poll = _sms_gateway(ns), 300.0
    else:
        from device_bridge.drivers.serial import SerialModem

        modem, poll = SerialModem(ns.port, baudrate=ns.baudrate, pin=ns.pin), 60.0
    bridge = Bridge(
        modem,
        journal,
        identity,
        allow_insecure=ns.allow_insecure,
        poll_interval=ns.poll_interval or poll,
    )

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


def _pair(ns: argparse.Namespace) -> int:
    from device_bridge.pairing import pair
    from protocol.errors import ProtocolError

    try:
        paired = asyncio.run(
            pair(
                ns.data_dir,
                ns.target,
                ns.code,
                name=ns.name,
                tls_fingerprint=ns.tls_fingerprint,
                allow_insecure=ns.allow_insecure,
                force=ns.force,
            )
        )
    except ProtocolError as exc:  # a malformed code or URI
        print(f"ferry bridge: {exc}", file=sys.stderr)
        return 1
    lines = ", ".join(paired.lines) or "no line yet"
    print(f"paired with {paired.server_url} as device {paired.device_id} ({lines})")
    print(f"identity saved in {ns.data_dir} (device.key is private: mode 0600)")
    return 0


_REFUSALS = {
    "body_too_long": "the text is longer than the server takes",
    "field_too_long": "a field is longer than the server takes",
    "bad_sender": "the sender is not a number or name the server can show",
    "invalid_attachment": "an attachment's type is not valid",
    "too_many_attachments": "too many attachments",
    "attachment_too_large": "the attachments are too large",
    "malformed": "the message was malformed",
}


def _status(ns: argparse.Namespace) -> int:
    from device_bridge.journal import Journal

    path = ns.journal or ns.data_dir / "journal.db"
    if not path.is_file():
        # Opening it would create an empty journal and report "nothing waiting".
        print(f"ferry bridge: no journal at {path} (is --data-dir right?)", file=sys.stderr)
        return 1
    journal = Journal(path)
    try:
        print(f"inbound waiting for the server: {journal.inbound_count()}")
        for source, position in sorted(journal.cursors().items()):
            print(f"read from {source} up to _id {position}")
        for item in journal.unreported():
            print(f"outgoing {item.outbox_id}: {item.state} (server told: {item.reported or 'no'})")
        refused = journal.quarantined()
        if refused:
            print(f"refused by the server, kept here and not sent again: {len(refused)}")
        for q in refused:
            why = _REFUSALS.get(q.reason, q.reason)
            # repr: a hostile sender may contain line breaks or terminal escapes.
            print(f"  #{q.n} from {q.sender!r}, sent {q.sent_at}: {why} (kept {q.quarantined_at})")
    finally:
        journal.close()
    return 0
