"""The ``ferry`` command: ``serve``, ``demo``, ``admin``; ``bridge`` and ``emulate`` run the
device bridge's own entry point (the server never imports the bridge)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import getpass
import os
import secrets
import signal
import sys
from pathlib import Path

from aiohttp import web

from server.app import create_app
from server.config import Config, ConfigError
from server.log import server_logger, setup_logging
from server.net import RUNNER_ARGS, ConnectionGuard, GuardedSite
from server.tls import pretty, server_tls

DEVICE_COMMANDS = {"bridge", "emulate"}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in DEVICE_COMMANDS:
        rest = argv[1:] if argv[0] == "bridge" else argv
        os.execv(sys.executable, [sys.executable, "-m", "device_bridge", *(rest or ["--help"])])  # noqa: S606
    parser = _parser()
    ns = parser.parse_args(argv)
    if not getattr(ns, "func", None):
        parser.print_help()
        return 2
    try:
        return int(ns.func(ns) or 0)
    except ConfigError as exc:
        print(f"ferry: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ferry", description="Ferry: your phone's SMS on your desktop."
    )
    sub = p.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the sync server")
    _server_args(serve)
    serve.add_argument("--tls-cert", type=Path, default=None, help="TLS certificate (PEM)")
    serve.add_argument("--tls-key", type=Path, default=None, help="its private key (PEM)")
    serve.set_defaults(func=_serve)

    demo = sub.add_parser("demo", help="server + virtual phones + bridge, ready to try")
    demo.add_argument("--port", type=int, default=8080)
    demo.add_argument("--data-dir", type=Path, default=Path("var/demo"))
    demo.add_argument("--control-port", type=int, default=8091)
    demo.add_argument("--contact-interval", type=float, default=20.0)
    demo.set_defaults(func=_demo)

    admin = sub.add_parser("admin", help="accounts and devices")
    asub = admin.add_subparsers(metavar="ACTION")
    ca = asub.add_parser("create-account", help="create an account (password read from stdin)")
    ca.add_argument("--phone", required=True)
    ca.add_argument(
        "--verified",
        action="store_true",
        help="mark the number verified (operator vouches for it; skips the SMS code)",
    )
    _server_args(ca)
    ca.set_defaults(func=_create_account)
    pc = asub.add_parser(
        "pairing-code", help="create a one-time pairing code for a bridge (headless set-ups)"
    )
    pc.add_argument("--phone", required=True)
    pc.add_argument("--server-url", default=None, help="the URL bridges reach this server at")
    _server_args(pc)
    pc.set_defaults(func=_pairing_code)
    se = asub.add_parser("security-events", help="an account's security events, newest first")
    se.add_argument("--phone", required=True)
    se.add_argument("--limit", type=int, default=50)
    _server_args(se)
    se.set_defaults(func=_security_events)
    sub.add_parser("bridge", help="run the device bridge (ferry bridge --help)")
    sub.add_parser("emulate", help="run the virtual GSM network (ferry emulate --help)")
    return p


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--database-url", default=None)


def _config(ns: argparse.Namespace) -> Config:
    return Config.from_env(
        host=getattr(ns, "host", None),
        port=getattr(ns, "port", None),
        data_dir=getattr(ns, "data_dir", None),
        database_url=getattr(ns, "database_url", None),
        tls_cert=getattr(ns, "tls_cert", None),
        tls_key=getattr(ns, "tls_key", None),
    )


# ------------------------------------------------------------------- serve


async def run_server(config: Config, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then shut down cleanly (TLS whenever it is enabled)."""
    tls = server_tls(config)
    if tls is not None:
        made = "created a self-signed" if tls.created else "using the"
        print(f"TLS: {made} certificate, SHA-256 {pretty(tls.fingerprint)}", flush=True)
    pin = tls.fingerprint if tls is not None and tls.self_signed else None
    app = create_app(config, tls_pin=pin)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, **RUNNER_ARGS)
    await runner.setup()
    site = GuardedSite(
        runner,
        config.host,
        config.port,
        ConnectionGuard.from_config(config),
        ssl_context=tls.context if tls is not None else None,
    )
    await site.start()
    # What start-up built (modules, compiled statements, caches) lives as long as the
    # server: keep it out of the collector's full passes, which otherwise stall the loop
    # for milliseconds while it walks objects that can never be garbage.
    gc.collect()
    gc.freeze()
    scheme = "https" if tls is not None else "http"
    server_logger.info("listening on %s://%s:%d", scheme, config.host, config.port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _serve(ns: argparse.Namespace) -> int:
    config = _config(ns)
    setup_logging(config.log_level)

    async def go() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        scheme = "https" if config.tls_enabled else "http"
        print(f"Ferry server on {scheme}://{config.host}:{config.port}  (Ctrl-C stops)", flush=True)
        await run_server(config, stop)

    asyncio.run(go())
    return 0


# ------------------------------------------------------------------- admin


def _create_account(ns: argparse.Namespace) -> int:
    from server.admin import create_account

    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline()
    password = password.rstrip("\n")
    account_id = asyncio.run(create_account(_config(ns), ns.phone, password, verified=ns.verified))
    print(f"account {account_id} created")
    return 0


def _pairing_code(ns: argparse.Namespace) -> int:
    from protocol.pairing import parse_pairing_uri
    from server.admin import AdminError, create_pairing_code
    from server.auth.pairing import qr_text

    try:
        offer = asyncio.run(create_pairing_code(_config(ns), ns.phone, ns.server_url))
    except AdminError as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    server_url = parse_pairing_uri(offer.uri).server_url
    print(qr_text(offer.uri))
    print(f"Pairing URI (scan, or paste):  {offer.uri}")
    print(f"Typed code:                    {offer.code}")
    print(f"Valid once, until {offer.expires_at:%Y-%m-%d %H:%M} UTC. On the bridge, either")
    print(f"  ferry bridge pair '{offer.uri}'")
    print(f"  ferry bridge pair {server_url} {offer.code}")
    return 0


def _security_events(ns: argparse.Namespace) -> int:
    from server.admin import security_events

    for e in asyncio.run(security_events(_config(ns), ns.phone, ns.limit)):
        when = e.created_at.isoformat().replace("+00:00", "Z")
        print(f"{when}  {e.kind:<24} {e.ip or '-':<16} {e.user_agent or ''}")
    return 0


# -------------------------------------------------------------------- demo


def _demo(ns: argparse.Namespace) -> int:
    from server.demo import run_demo

    # Codes travel through the virtual GSM network: a new sign-up in the demo gets its
    # code on the virtual phone, and the bridged phone verifies itself.
    config = Config.from_env(
        port=ns.port,
        data_dir=ns.data_dir,
        sms_gateway="emulator",
        emulator_url=f"http://127.0.0.1:{ns.control_port}",
    )
    setup_logging(config.log_level)
    return asyncio.run(
        run_demo(config, control_port=ns.control_port, contact_interval=ns.contact_interval)
    )


def random_password() -> str:
    return secrets.token_urlsafe(9)
