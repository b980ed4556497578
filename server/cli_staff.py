"""``ferry admin`` commands that look into an account (each needs ``--reason`` and is
recorded in the staff-access log, see ``server/admin_privacy.py``) and the audit log's
own commands."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any

from server.config import Config


def add_staff_commands(
    asub: Any,
    server_args: Callable[[argparse.ArgumentParser], None],
    config: Callable[[argparse.Namespace], Config],
) -> None:
    """Add ``security-events``, ``inspect``, ``messages`` and ``audit`` to ``ferry admin``."""
    se = asub.add_parser(
        "security-events",
        help="an account's security events, newest first (needs --reason; recorded)",
    )
    se.add_argument("--phone", required=True)
    se.add_argument("--limit", type=_count, default=50)
    _staff_args(se)
    server_args(se)
    se.set_defaults(func=lambda ns: _security_events(config(ns), ns))
    ins = asub.add_parser(
        "inspect",
        help="what an account holds: counts, settings, numbers, bridges (needs --reason; "
        "recorded, and shown to the user)",
    )
    ins.add_argument("--phone", required=True)
    _staff_args(ins)
    server_args(ins)
    ins.set_defaults(func=lambda ns: _inspect(config(ns), ns))
    msg = asub.add_parser(
        "messages",
        help="an account's newest messages, only while its user grants troubleshooting "
        "access (needs --reason; recorded, and shown to the user)",
    )
    msg.add_argument("--phone", required=True)
    msg.add_argument("--limit", type=_count, default=20)
    _staff_args(msg)
    server_args(msg)
    msg.set_defaults(func=lambda ns: _messages(config(ns), ns))
    audit = asub.add_parser("audit", help="the staff-access log (hash-chained)")
    ausub = audit.add_subparsers(metavar="ACTION")
    av = ausub.add_parser("verify", help="check the chain; names the first altered row")
    server_args(av)
    av.set_defaults(func=lambda ns: _audit_verify(config(ns)))
    al = ausub.add_parser("list", help="the newest accesses (of one account with --phone)")
    al.add_argument("--phone", default=None)
    al.add_argument("--limit", type=_count, default=50)
    server_args(al)
    al.set_defaults(func=lambda ns: _audit_list(config(ns), ns))


def _staff_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--reason",
        required=True,
        help="why you look into this account (8 to 500 characters; written to the audit "
        "log and shown to the user)",
    )
    p.add_argument("--operator", default=None, help="who is looking (default: your login name)")


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 200:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count from 1 to 200")
    return value


def _security_events(cfg: Config, ns: argparse.Namespace) -> int:
    from server.admin import AdminError
    from server.admin_privacy import operator_name, security_events

    try:
        events = asyncio.run(
            security_events(cfg, ns.phone, ns.limit, ns.reason, operator_name(ns.operator))
        )
    except AdminError as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    for e in events:
        print(f"{_when(e.created_at)}  {e.kind:<24} {e.ip or '-':<16} {e.user_agent or ''}")
    return 0


def _when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def _inspect(cfg: Config, ns: argparse.Namespace) -> int:
    from server.admin import AdminError
    from server.admin_privacy import inspect, operator_name

    try:
        found = asyncio.run(inspect(cfg, ns.phone, ns.reason, operator_name(ns.operator)))
    except AdminError as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    a, s, st = found.account, found.settings, found.stored
    print(f"account {a.id}  {a.phone}  verified: {'yes' if a.phone_verified else 'no'}")
    print(f"created {_when(a.created_at) if a.created_at else '-'}")
    print(
        f"messages {st.messages} (masked {st.masked}, deleted {st.deleted})  "
        f"conversations {st.threads}  contacts {st.contacts}"
    )
    print(
        f"attachments {st.attachments} ({st.attachment_bytes:,} bytes)  sealed text "
        f"{st.body_bytes:,} bytes  sessions {st.sessions}  security events "
        f"{st.security_events}"
    )
    retention = f"{s.retention_days} days" if s.retention_days else "kept until deleted"
    grant = _when(s.troubleshoot_until) if s.troubleshoot_until else "none"
    print(
        f"mask sent: {'on' if s.mask_sent else 'off'}  retention: {retention}  "
        f"troubleshooting grant until: {grant}"
    )
    for line in found.lines:
        print(f"number {line.number}  {'verified' if line.verified else 'unverified'}")
    for d in found.devices:
        seen = _when(d.last_seen_at) if d.last_seen_at else "never"
        print(f"bridge {d.id}  {d.name!r}  last seen {seen}")
    print("Message contents are not shown (ferry admin messages, with the user's grant).")
    return 0


def _messages(cfg: Config, ns: argparse.Namespace) -> int:
    from server.admin import AdminError
    from server.admin_privacy import operator_name, read_messages

    try:
        found = asyncio.run(
            read_messages(cfg, ns.phone, ns.reason, operator_name(ns.operator), ns.limit)
        )
    except AdminError as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    for m in found:
        arrow = "<" if m.direction == "in" else ">"
        print(f"{m.timestamp}  {arrow} {m.peer:<16} {m.status:<10} {m.body}")
    return 0


def _audit_verify(cfg: Config) -> int:
    from server.admin_privacy import audit_verify

    checked, broken, last = asyncio.run(audit_verify(cfg))
    if broken is not None:
        print(
            f"ferry admin: the audit log was tampered with at row {broken.row_id}: "
            f"{broken.why} ({checked} rows before it are intact)",
            file=sys.stderr,
        )
        return 1
    print(f"audit log intact: {checked} row(s); newest hash {last.hex()}")
    print("Keep the newest hash elsewhere: only it shows that no newest row was removed.")
    return 0


def _audit_list(cfg: Config, ns: argparse.Namespace) -> int:
    from server.admin import AdminError
    from server.admin_privacy import audit_list

    try:
        entries = asyncio.run(audit_list(cfg, ns.phone, ns.limit))
    except AdminError as exc:
        print(f"ferry admin: {exc}", file=sys.stderr)
        return 1
    for e in entries:
        print(
            f"{e.id:>6}  {_when(e.at)}  {e.operator:<12} account {e.account_id}  "
            f"{e.action:<22} {e.reason}"
        )
    return 0
