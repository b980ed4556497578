"""The ``ferry`` command: ``serve``, ``demo``, ``admin``; ``bridge`` and ``emulate`` run the
device bridge's own entry point (the server never imports the bridge)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import gc
import getpass
import logging
import os
import secrets
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from ssl import SSLContext

from aiohttp import web

from server import listening, shutdown
from server.app import create_app
from server.cli_staff import add_staff_commands
from server.config import Config, ConfigError
from server.log import server_logger, setup_logging
from server.net import RUNNER_ARGS, ConnectionGuard, GuardedSite
from server.shutdown import REQUESTS_SHARE
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

    demo = sub.add_parser(
        "demo",
        help="server + virtual phones + bridge, ready to try",
        description="The whole system on this machine: the sync server, a virtual GSM "
        "network with two phones, and a device bridge on phone 1. A port that is taken "
        "is replaced by a free one; the banner says which, and the URL to open.",
    )
    demo.add_argument(
        "--port",
        type=_port,
        default=None,
        help="the server's port (default: FERRY_PORT, else 8080)",
    )
    demo.add_argument(
        "--control-port",
        type=_port,
        default=None,
        help="the port of the emulator's control API, used by 'ferry emulate ctl' "
        "(default: FERRY_EMULATOR_PORT, else 8091)",
    )
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="where the demo keeps its database, keys, bridge and emulator.json "
        "(default: var/demo)",
    )
    demo.add_argument(
        "--contact-interval",
        type=_seconds,
        default=20.0,
        metavar="SECONDS",
        help="phone 2 texts phone 1 this often (default: 20)",
    )
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
    pc.add_argument(
        "--server-url",
        default=None,
        help="the URL bridges reach this server at (default: FERRY_PUBLIC_URL, else the "
        "address the server running from DATA_DIR serves)",
    )
    _server_args(pc)
    pc.set_defaults(func=_pairing_code)
    add_staff_commands(asub, _server_args, _config)
    ne = asub.add_parser(
        "new-epoch",
        help="after restoring a backup: every browser refetches instead of resuming",
    )
    _server_args(ne)
    ne.set_defaults(func=_new_epoch)
    ok = asub.add_parser(
        "oauth-rotate-key",
        help="a new signing key for OAuth access tokens (the old ones verify until expiry)",
    )
    ok.add_argument(
        "--drop-old",
        action="store_true",
        help="the old key leaked: its tokens stop now (apps refresh theirs)",
    )
    _server_args(ok)
    ok.set_defaults(func=_oauth_rotate_key)
    bk = asub.add_parser(
        "backup",
        help="copy the SQLite database while the server runs (keys not included)",
        description="A consistent copy of the live SQLite database in a new file. The "
        "master key is NOT in it: keep master.key (and server.key) apart, as safe as the "
        "keys themselves. PostgreSQL: use pg_dump.",
    )
    bk.add_argument("out", type=Path, metavar="OUT", help="the backup file to create")
    _server_args(bk)
    bk.set_defaults(func=_backup)
    rs = asub.add_parser(
        "restore",
        help="put a backup in place of the database (server stopped)",
        description="Replace the SQLite database by a backup made with 'ferry admin "
        "backup' (the one replaced is kept beside it), migrate it, and give every "
        "account a new cursor epoch so browsers refetch. The server must be stopped, and "
        "the data directory must hold the master key the backup was made with.",
    )
    rs.add_argument("backup", type=Path, metavar="BACKUP", help="a file from 'ferry admin backup'")
    _server_args(rs)
    rs.set_defaults(func=_restore)
    from server import cli_signup

    cli_signup.add_parsers(asub, _server_args, _config)
    sub.add_parser("bridge", help="run the device bridge (ferry bridge --help)")
    sub.add_parser("emulate", help="run the virtual GSM network (ferry emulate --help)")
    return p


def _server_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--host", default=None, help="address to listen on (default: FERRY_HOST, else 127.0.0.1)"
    )
    p.add_argument("--port", type=_port, default=None, help="(default: FERRY_PORT, else 8080)")
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keys, database, TLS files (default: FERRY_DATA_DIR, else var)",
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="(default: FERRY_DATABASE_URL, else SQLite in the data directory)",
    )


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86400:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds (up to 86400)")
    return value


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


@dataclass
class Serving:
    """A started server: the URL it serves and how to stop it."""

    runner: web.AppRunner
    url: str
    port: int
    record: Path

    async def close(self) -> None:
        """Stop serving; the address record goes with it."""
        listening.forget(self.record, os.getpid())
        await shutdown.stop(self.runner)


async def start_server(config: Config, *, any_port_if_taken: bool = False) -> Serving:
    """Start serving ``config`` (TLS whenever it is enabled) and record the address.

    Args:
        config: What to serve, and where.
        any_port_if_taken: When ``config.port`` is taken, take a free port instead
            (the demo); otherwise a taken port is an error.

    Raises:
        ListenError: The address cannot be bound (one sentence, fit to show as is).
    """
    port = config.port
    try:
        # Before anything is created or migrated: a taken port is the likeliest mistake.
        await _probe(config.host, port)
    except OSError as exc:
        if not (any_port_if_taken and exc.errno == errno.EADDRINUSE):
            raise listening.listen_error(config.host, port, exc) from None
        port = 0
    tls = server_tls(config)
    if tls is not None:
        made = "created a self-signed" if tls.created else "using the"
        print(f"TLS: {made} certificate, SHA-256 {pretty(tls.fingerprint)}", flush=True)
    pin = tls.fingerprint if tls is not None and tls.self_signed else None
    app = create_app(config, tls_pin=pin)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=config.shutdown_timeout * REQUESTS_SHARE,
        **RUNNER_ARGS,
    )
    await runner.setup()
    ssl_context = tls.context if tls is not None else None
    guard = ConnectionGuard.from_config(config)
    try:
        try:
            await _bind(runner, config.host, port, ssl_context, guard)
        except OSError as exc:  # taken since the probe
            if not (any_port_if_taken and exc.errno == errno.EADDRINUSE):
                raise listening.listen_error(config.host, port, exc) from None
            await _bind(runner, config.host, 0, ssl_context, guard)
    except BaseException:
        await runner.cleanup()
        raise
    # What start-up built (modules, compiled statements, caches) lives as long as the
    # server: keep it out of the collector's full passes, which otherwise stall the loop
    # for milliseconds while it walks objects that can never be garbage.
    gc.collect()
    gc.freeze()
    scheme = "https" if tls is not None else "http"
    port = int(runner.addresses[0][1])
    where = listening.Listening(scheme, config.host, port, os.getpid())
    record = listening.record(config.data_dir, where)
    server_logger.info("listening on %s://%s:%d", scheme, config.host, port)
    return Serving(runner, f"{scheme}://{_url_host(config.host)}:{port}", port, record)


async def _probe(host: str, port: int) -> None:
    """Bind ``host``/``port`` the way the site will, and let go again."""
    if port == 0:
        return
    loop = asyncio.get_running_loop()
    server = await loop.create_server(asyncio.Protocol, host, port, start_serving=False)
    server.close()
    await server.wait_closed()


async def _bind(
    runner: web.AppRunner, host: str, port: int, ssl: SSLContext | None, guard: ConnectionGuard
) -> None:
    site = GuardedSite(runner, host, port, guard, ssl_context=ssl)
    try:
        await site.start()
    except OSError:
        await site.stop()  # a failed start stays registered with the runner
        raise


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def run_server(config: Config, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set, then shut down cleanly (TLS whenever it is enabled).

    Raises:
        ListenError: The address cannot be bound.
    """
    serving = await start_server(config)
    try:
        await stop.wait()
    finally:
        await serving.close()


def _stop_on_signals(stop: asyncio.Event) -> None:
    """The first SIGINT or SIGTERM sets ``stop``; a second one ends the process at once."""
    loop = asyncio.get_running_loop()

    def first() -> None:
        stop.set()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, _exit_now, "a second signal")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, first)


#: Seconds past the stop's bound before a process that still has not ended (a database
#: thread stuck in a call, say) is ended without further ado.
EXIT_GRACE = 5.0


def _exit_now(why: str) -> None:
    server_logger.error("stopping at once (%s)", why)
    logging.shutdown()
    os._exit(1)


async def stop_within(serving: Serving, bound: float) -> int:
    """Stop gracefully within ``bound`` seconds (see ``server/shutdown.py``); the exit
    status: 0 when everything finished in time, 1 when the stop was cut short."""
    server_logger.info("stopping: bridges and browsers reconnect elsewhere (at most %g s)", bound)
    try:
        async with asyncio.timeout(bound):
            await serving.close()
    except TimeoutError:
        server_logger.error(
            "the stop took longer than %g s (FERRY_SHUTDOWN_TIMEOUT); cut short", bound
        )
        return 1
    server_logger.info("stopped")
    return 0


def _serve(ns: argparse.Namespace) -> int:
    config = _config(ns)
    setup_logging(config.log_level, config.log_format)

    async def go() -> int:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        serving = await start_server(config)
        print(f"Ferry server on {serving.url}  (Ctrl-C stops)", flush=True)
        await stop.wait()
        # Also covers the end of the process: a database thread stuck in a call would
        # hold the interpreter's exit.
        watchdog = threading.Timer(
            config.shutdown_timeout + EXIT_GRACE, _exit_now, ("the stop took too long",)
        )
        watchdog.daemon = True
        watchdog.start()
        return await stop_within(serving, config.shutdown_timeout)

    return asyncio.run(go())


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
    from server.admin import AdminError, create_pairing_code, server_url
    from server.auth.pairing import qr_text

    config = _config(ns)
    url = ns.server_url
    if url is None:
        found = server_url(config)
        url = found.url
        if found.guessed:
            print(
                f"ferry admin: no server is running from {config.data_dir}, so the code "
                f"names {url}, where 'ferry serve' with these settings would listen; if "
                "bridges reach the server elsewhere, pass --server-url or set FERRY_PUBLIC_URL",
                file=sys.stderr,
            )
    try:
        offer = asyncio.run(create_pairing_code(config, ns.phone, url))
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


_KEYS_WARNING = """\
!! This backup holds no keys. Without the server's master key ({master}, or
!! FERRY_MASTER_KEY) the messages in it can never be read, and without server.key every
!! bridge must be paired again. Keep one copy of both, apart from your backups and as
!! safe as the keys themselves (never beside the backup files)."""


def _backup(ns: argparse.Namespace) -> int:
    from server.admin import AdminError, backup_database
    from server.backup import BackupError

    config = _config(ns)
    try:
        done = asyncio.run(backup_database(config, ns.out))
    except (AdminError, BackupError) as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    print(
        f"backed up {done.accounts} account(s) (migration {done.revision}) to {done.path} "
        f"({done.size:,} bytes)"
    )
    print(_KEYS_WARNING.format(master=config.data_dir / "master.key"), file=sys.stderr)
    return 0


def _restore(ns: argparse.Namespace) -> int:
    from server.admin import AdminError, restore_database
    from server.backup import BackupError

    config = _config(ns)
    try:
        done = asyncio.run(restore_database(config, ns.backup))
    except (AdminError, BackupError) as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    print(f"restored {done.snapshot.accounts} account(s) from {ns.backup}")
    if done.kept is not None:
        print(f"the database it replaced is kept as {done.kept}")
    print(f"new cursor epoch for {done.rotated} account(s): browsers will refetch")
    if done.new_server_key:
        print(
            f"ferry admin: there is no server.key in {config.data_dir}: the server will make "
            "a new one, and every bridge will have to be paired again. Copy the old "
            "server.key there first if you still have it.",
            file=sys.stderr,
        )
    return 0


def _new_epoch(ns: argparse.Namespace) -> int:
    from server.admin import new_epoch

    count = asyncio.run(new_epoch(_config(ns)))
    print(f"new cursor epoch for {count} account(s): browsers will refetch their conversations")
    return 0


def _oauth_rotate_key(ns: argparse.Namespace) -> int:
    from server.admin import rotate_oauth_key

    kid = asyncio.run(rotate_oauth_key(_config(ns), drop_old=ns.drop_old))
    dropped = "; the old keys are gone" if ns.drop_old else ""
    print(f"new OAuth signing key {kid}{dropped} (other nodes use it within a minute)")
    return 0


# -------------------------------------------------------------------- demo


def _demo(ns: argparse.Namespace) -> int:
    from server.demo import DEFAULT_CONTROL_PORT, DEFAULT_DATA_DIR, run_demo

    control_port = ns.control_port
    if control_port is None:
        control_port = _env_port("FERRY_EMULATOR_PORT", DEFAULT_CONTROL_PORT)
    # Codes travel through the virtual GSM network: a new sign-up in the demo gets its
    # code on the virtual phone, and the bridged phone verifies itself. The demo points
    # the gateway at the emulator once the emulator says where it listens.
    data_dir = ns.data_dir or DEFAULT_DATA_DIR
    config = Config.from_env(port=ns.port, data_dir=data_dir, sms_gateway="emulator")
    setup_logging(config.log_level, config.log_format)
    return asyncio.run(
        run_demo(config, control_port=control_port, contact_interval=ns.contact_interval)
    )


def _env_port(name: str, default: int) -> int:
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        return _port(text)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def random_password() -> str:
    return secrets.token_urlsafe(9)
