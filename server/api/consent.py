"""Recipient consent over REST: opt-outs (peers who replied STOP), consent records, and
broadcasts (one message to a list, sent only to numbers with recorded consent)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from server.api.common import id_param, json_response, read_json, services, string_field
from server.api.conversations import MAX_BODY_CHARS, _recipient, _sending_line
from server.api.session import _iso
from server.auth.web import verified_account
from server.errors import BadRequest, NotFound
from server.storage.broadcasts import MAX_RECIPIENTS, Broadcast, Consent

routes = web.RouteTableDef()

#: Largest broadcast request: 500 numbers of up to 40 characters and a long text.
BROADCAST_BODY_BYTES = 64 * 1024


@routes.get("/api/v1/opt-outs")
async def list_optouts(request: web.Request) -> web.Response:
    """Peers who replied STOP (or another opt-out word) on one of the account's lines
    and have not sent START since: nothing is sent to them from that line."""
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.optouts.for_account(account.id)
    return json_response(
        {
            "opt_outs": [
                {"line_id": o.line_id, "peer": o.peer, "keyword": o.keyword, "at": _iso(o.at)}
                for o in found
            ]
        }
    )


def _consent_json(c: Consent) -> dict[str, Any]:
    return {
        "id": c.id,
        "number": c.number,
        "given_at": _iso(c.given_at),
        "recorded_at": _iso(c.recorded_at),
        "note": c.note,
    }


@routes.get("/api/v1/consents")
async def list_consents(request: web.Request) -> web.Response:
    """Numbers the user recorded as having agreed to receive their messages."""
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.consents.for_account(account.id)
    return json_response({"consents": [_consent_json(c) for c in found]})


@routes.post("/api/v1/consents")
async def record_consent(request: web.Request) -> web.Response:
    """Record that ``number`` agreed to receive messages (``given_at``: when, default
    now, not in the future; ``note``: how, e.g. "signed up at the shop")."""
    svc = services(request)
    account = await verified_account(request, svc)
    data = await read_json(request)
    line = await _sending_line(svc, account.id, data.get("line_id"))
    number = _recipient(
        string_field(data, "number", max_len=40, code="invalid_number"), line.number
    )
    note = data.get("note", "")
    if not isinstance(note, str) or len(note) > 200 or not note.isprintable():
        raise BadRequest("'note' must be text of at most 200 characters.", code="invalid_note")
    now = svc.clock.now()
    given_at = _past_time(data.get("given_at"), now)
    consent = await svc.consents.record(account.id, number, given_at, note.strip(), now)
    return json_response({"consent": _consent_json(consent)}, status=201)


def _past_time(value: object, now: datetime) -> datetime:
    if value is None:
        return now
    try:
        if not isinstance(value, str) or len(value) > 40:
            raise ValueError
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if when.tzinfo is None or when > now + timedelta(minutes=5) or when.year < 2000:
            raise ValueError
    except ValueError:
        raise BadRequest(
            "'given_at' must be a past date and time with its time zone "
            "(e.g. 2026-11-30T09:00:00Z).",
            code="invalid_given_at",
        ) from None
    return when


@routes.delete(r"/api/v1/consents/{consent_id}")
async def withdraw_consent(request: web.Request) -> web.Response:
    """Forget a consent record: broadcasts no longer go to that number (including the
    queued messages of broadcasts already started)."""
    svc = services(request)
    account = await verified_account(request, svc)
    if not await svc.consents.withdraw(account.id, id_param(request, "consent_id")):
        raise NotFound()
    return web.Response(status=204)


def _broadcast_json(b: Broadcast) -> dict[str, Any]:
    return {
        "id": b.id,
        "line_id": b.line_id,
        "body": b.body,
        "created_at": _iso(b.created_at),
        "cancelled_at": _iso(b.cancelled_at),
        "counts": b.counts(),
        "recipients": [
            {
                "number": r.number,
                "status": r.status,
                "due_at": _iso(r.due_at),
                "message_id": r.message_id,
                "error": r.error,
            }
            for r in b.recipients
        ],
    }


@routes.post("/api/v1/broadcasts")
async def create_broadcast(request: web.Request) -> web.Response:
    """One ``body`` to up to 500 ``numbers`` from a line (idempotent on ``client_id``):
    sent only to numbers with recorded consent that did not reply STOP on the line,
    paced per line (``FERRY_BROADCAST_PER_MINUTE``); the others are listed as skipped."""
    svc = services(request)
    account = await verified_account(request, svc)
    data = await read_json(request, BROADCAST_BODY_BYTES)
    body = data.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY_CHARS:
        raise BadRequest(
            f"The message must have 1 to {MAX_BODY_CHARS} characters.", code="invalid_body"
        )
    client_id = string_field(data, "client_id", max_len=64, code="invalid_client_id")
    raw = data.get("numbers")
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_RECIPIENTS:
        raise BadRequest(
            f"'numbers' must be a list of 1 to {MAX_RECIPIENTS} phone numbers.",
            code="invalid_numbers",
        )
    line = await _sending_line(svc, account.id, data.get("line_id"))
    numbers = [_number(item, line.number) for item in raw]
    broadcast_id = await svc.broadcasts.create(
        account.id,
        line.id,
        body,
        numbers,
        client_id,
        svc.clock.now(),
        svc.config.broadcast_per_minute,
    )
    found = await svc.broadcasts.get(account.id, broadcast_id)
    assert found is not None
    return json_response({"broadcast": _broadcast_json(found)}, status=201)


def _number(item: object, line_number: str) -> str:
    if not isinstance(item, str) or len(item) > 40:
        raise BadRequest("Each of 'numbers' must be a phone number.", code="invalid_number")
    return _recipient(item, line_number)


@routes.get("/api/v1/broadcasts")
async def list_broadcasts(request: web.Request) -> web.Response:
    """The account's last 50 broadcasts, newest first, with per-recipient status."""
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.broadcasts.for_account(account.id)
    return json_response({"broadcasts": [_broadcast_json(b) for b in found]})


@routes.get(r"/api/v1/broadcasts/{broadcast_id}")
async def get_broadcast(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.broadcasts.get(account.id, id_param(request, "broadcast_id"))
    if found is None:
        raise NotFound()
    return json_response({"broadcast": _broadcast_json(found)})


@routes.post(r"/api/v1/broadcasts/{broadcast_id}/cancel")
async def cancel_broadcast(request: web.Request) -> web.Response:
    """Recipients not yet released are not sent (``cancelled``); released ones go on."""
    svc = services(request)
    account = await verified_account(request, svc)
    broadcast_id = id_param(request, "broadcast_id")
    if not await svc.broadcasts.cancel(account.id, broadcast_id, svc.clock.now()):
        raise NotFound()
    found = await svc.broadcasts.get(account.id, broadcast_id)
    assert found is not None
    return json_response({"broadcast": _broadcast_json(found)})
