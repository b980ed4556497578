"""``ferry admin invite create|list|revoke`` and ``ferry admin signup status``."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from typing import Any

from server.clock import SystemClock
from server.config import Config


def add_parsers(
    asub: Any,
    server_args: Callable[[argparse.ArgumentParser], None],
    config: Callable[[argparse.Namespace], Config],
) -> None:
    """Add the sign-up commands to ``ferry admin`` (``asub``: its subparsers)."""
    inv = asub.add_parser("invite", help="invite codes for FERRY_SIGNUP=invite")
    isub = inv.add_subparsers(metavar="ACTION")
    create = isub.add_parser("create", help="make a single-use invite code (shown once)")
    create.add_argument("--note", default="", help="who it is for (shown in lists)")
    create.add_argument("--days", type=_days, default=14, help="days it is valid (default 14)")
    server_args(create)
    create.set_defaults(func=lambda ns: _create(ns, config(ns)))
    ls = isub.add_parser("list", help="every invite code and its state")
    server_args(ls)
    ls.set_defaults(func=lambda ns: _list(config(ns)))
    rv = isub.add_parser("revoke", help="revoke an unused invite code")
    rv.add_argument("id", type=int, help="its id (from 'ferry admin invite list')")
    server_args(rv)
    rv.set_defaults(func=lambda ns: _revoke(ns, config(ns)))
    su = asub.add_parser("signup", help="sign-up settings and the verification-text budget")
    ssub = su.add_subparsers(metavar="ACTION")
    st = ssub.add_parser("status", help="who may sign up, from where, and texts sent this hour")
    server_args(st)
    st.set_defaults(func=lambda ns: _status(config(ns)))


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= 365:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (1 to 365)")
    return days


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds").replace("+00:00", "Z") if value else "-"


def _create(ns: argparse.Namespace, config: Config) -> int:
    from server.admin_signup import create_invite

    made = asyncio.run(create_invite(config, ns.note, ns.days))
    print(f"invite {made.id}: {made.code}")
    print(f"single use, valid until {_when(made.expires_at)}; it is not shown again")
    if config.signup != "invite":
        print(f"note: FERRY_SIGNUP is '{config.signup}', so invite codes are not asked for")
    return 0


def _list(config: Config) -> int:
    from server.admin_signup import list_invites

    now = SystemClock().now()
    invites = asyncio.run(list_invites(config))
    if not invites:
        print("no invite codes")
    for i in invites:
        print(
            f"{i.id:>5}  {i.prefix}-…  {i.state(now):<8} created {_when(i.created_at)}  "
            f"expires {_when(i.expires_at)}  used {_when(i.used_at)}  {i.note}"
        )
    return 0


def _revoke(ns: argparse.Namespace, config: Config) -> int:
    from server.admin_signup import revoke_invite

    if asyncio.run(revoke_invite(config, ns.id)):
        print(f"invite {ns.id} revoked")
        return 0
    print(f"ferry admin: no unused, unrevoked invite {ns.id}", file=sys.stderr)
    return 1


def _status(config: Config) -> int:
    from server.admin_signup import signup_status

    s = asyncio.run(signup_status(config))
    print(f"sign-up:          {s.mode} (FERRY_SIGNUP)")
    print(f"countries:        {', '.join(s.countries) or 'any'} (FERRY_SIGNUP_COUNTRIES)")
    print(
        f"verification SMS: at most {s.sms_per_hour} an hour (FERRY_VERIFY_SMS_PER_HOUR); "
        f"{s.sms_last_hour} spent in the last hour, all nodes"
    )
    print(f"invite codes:     {s.active_invites} active")
    print(f"terms version:    {s.terms_version} (FERRY_TERMS_VERSION)")
    return 0
