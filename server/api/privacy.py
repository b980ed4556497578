"""The privacy controls of the signed-in user: what is stored, masking, retention,
troubleshooting access, access history, and deleting the account.

Each control is one small handler; the rules live in ``server/storage/masking.py``,
``retention.py``, ``erasure.py`` and ``server/privacy/audit.py``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from server.api.accounts import reauthenticate
from server.api.common import (
    AUTH_BODY_BYTES,
    id_param,
    json_response,
    read_json,
    services,
    string_field,
)
from server.api.session import _iso
from server.auth import web as auth
from server.auth.web import verified_account
from server.errors import BadRequest, NotFound
from server.services import Services
from server.storage.privacy import MAX_RETENTION_DAYS, MAX_TROUBLESHOOT_HOURS

routes = web.RouteTableDef()


async def _privacy_json(svc: Services, account_id: int) -> dict[str, Any]:
    settings = await svc.privacy.settings(account_id)
    stored = await svc.privacy.inventory(account_id)
    now = svc.clock.now()
    until = settings.troubleshoot_until
    return {
        "settings": {
            "mask_sent": settings.mask_sent,
            "retention_days": settings.retention_days,
            "troubleshoot_until": _iso(until) if until is not None and until > now else None,
        },
        "stored": {
            "messages": stored.messages,
            "masked": stored.masked,
            "deleted": stored.deleted,
            "threads": stored.threads,
            "contacts": stored.contacts,
            "attachments": stored.attachments,
            "attachment_bytes": stored.attachment_bytes,
            "body_bytes": stored.body_bytes,
            "lines": stored.lines,
            "devices": stored.devices,
            "sessions": stored.sessions,
            "security_events": stored.security_events,
        },
        "server": {
            "access_log_days": svc.config.access_log_retention.days,
            "tombstone_days": svc.config.tombstone_age.days,
            "max_retention_days": MAX_RETENTION_DAYS,
            "max_troubleshoot_hours": MAX_TROUBLESHOOT_HOURS,
        },
    }


@routes.get("/api/v1/me/privacy")
async def get_privacy(request: web.Request) -> web.Response:
    """What Ferry stores about the account, and its privacy settings."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    return json_response(await _privacy_json(svc, account.id))


def _int_or_null(data: dict[str, Any], name: str, lo: int, hi: int) -> int | None:
    value = data[name]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise BadRequest(
            f"'{name}' must be null or an integer from {lo} to {hi}.", code="invalid_body"
        )
    return value


@routes.patch("/api/v1/me/privacy")
async def set_privacy(request: web.Request) -> web.Response:
    """Change ``mask_sent`` (bool), ``retention_days`` (null or 1 to 3650) and
    ``troubleshoot_hours`` (0 ends a grant; 1 to 72 grants operators access to message
    contents for that long). Each change is a security event."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    data = await read_json(request, AUTH_BODY_BYTES)
    known = {"mask_sent", "retention_days", "troubleshoot_hours"}
    if not data or not set(data) <= known:
        raise BadRequest(
            "Send one or more of 'mask_sent', 'retention_days', 'troubleshoot_hours'.",
            code="invalid_body",
        )
    values: dict[str, Any] = {}
    events: list[str] = []
    if "mask_sent" in data:
        if not isinstance(data["mask_sent"], bool):
            raise BadRequest("'mask_sent' must be true or false.", code="invalid_body")
        values["mask_sent"] = data["mask_sent"]
        events.append("mask_sent_on" if data["mask_sent"] else "mask_sent_off")
    if "retention_days" in data:
        values["retention_days"] = _int_or_null(data, "retention_days", 1, MAX_RETENTION_DAYS)
        events.append("retention_changed")
    if "troubleshoot_hours" in data:
        hours = _int_or_null(data, "troubleshoot_hours", 0, MAX_TROUBLESHOOT_HOURS) or 0
        now = svc.clock.now()
        values["troubleshoot_until"] = now + timedelta(hours=hours) if hours else None
        events.append("troubleshooting_granted" if hours else "troubleshooting_ended")
    await svc.privacy.update(account.id, **values)
    for kind in events:
        await svc.events.record(
            account.id,
            kind,
            svc.clock.now(),
            ip=auth.client_ip(request),
            user_agent=auth.user_agent(request),
        )
    return json_response(await _privacy_json(svc, account.id))


@routes.get("/api/v1/me/access-history")
async def access_history(request: web.Request) -> web.Response:
    """Every look of an operator into the account (``ferry admin``), newest first."""
    svc = services(request)
    account = await auth.current_account(request, svc)
    entries = await svc.audit.for_account(account.id, limit=200)
    return json_response(
        {
            "accesses": [
                {
                    "id": e.id,
                    "at": _iso(e.at),
                    "operator": e.operator,
                    "action": e.action,
                    "reason": e.reason,
                }
                for e in entries
            ]
        }
    )


async def _masked(svc: Services, account_id: int, seq: int | None) -> None:
    if seq is not None:
        await svc.masked(account_id, seq)


@routes.post(r"/api/v1/messages/{message_id}/mask")
async def mask_message(request: web.Request) -> web.Response:
    """Mask one message for good: its text and attachments are destroyed."""
    svc = services(request)
    account = await verified_account(request, svc)
    message_id = id_param(request, "message_id")
    try:
        seq = await svc.masking.mask_message(account.id, message_id)
    except LookupError:
        raise NotFound() from None
    await _masked(svc, account.id, seq)
    return web.Response(status=204)


@routes.post(r"/api/v1/threads/{thread_id}/mask")
async def mask_thread(request: web.Request) -> web.Response:
    """Mask every message of a conversation for good."""
    svc = services(request)
    account = await verified_account(request, svc)
    thread_id = id_param(request, "thread_id")
    try:
        seq = await svc.masking.mask_thread(account.id, thread_id)
    except LookupError:
        raise NotFound() from None
    await _masked(svc, account.id, seq)
    return web.Response(status=204)


@routes.post("/api/v1/me/delete")
async def delete_account(request: web.Request) -> web.Response:
    """Delete the account, confirmed with its password. The data key is destroyed at
    once, every session, socket, bridge and code ends, and the rows are purged in the
    background; the number may sign up again."""
    svc = services(request)
    principal = await auth.authenticate(request, svc)
    account = principal.account
    data = await read_json(request, AUTH_BODY_BYTES)
    password = string_field(data, "password", max_len=512, code="wrong_password")
    await reauthenticate(request, svc, account.id, password, account.password_hash)
    try:
        await svc.delete_account(account.id)
    except LookupError:
        raise NotFound() from None
    resp = web.Response(status=204)
    auth.clear_session_cookie(resp, svc)
    return resp
