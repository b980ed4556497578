"""Threads and messages over REST."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from protocol.phone import InvalidNumber, classify_peer, example_spellings
from server.api.common import (
    MAX_ID,
    id_param,
    int_query,
    json_response,
    read_json,
    services,
    string_field,
)
from server.auth.web import verified_account
from server.errors import BadRequest, Conflict, Forbidden, NotFound
from server.hub import ChangesHint
from server.oauth.guard import check_thread, note, thread_limit
from server.services import Services
from server.storage.lines import Line
from server.storage.optouts import OptedOut
from server.ws.device_views import device_views

routes = web.RouteTableDef()

MAX_BODY_CHARS = 1600  # ten concatenated SMS; longer texts belong in MMS or chat apps


def _thread_id(request: web.Request) -> int:
    """The thread of the path; 404 outside an app's conversation limit."""
    thread_id = id_param(request, "thread_id")
    check_thread(request, thread_id)
    return thread_id


@routes.get("/api/v1/threads")
async def list_threads(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    threads, seq, epoch = await svc.conversations.snapshot(account.id)
    limit = thread_limit(request)
    if limit is not None:  # an app limited to some conversations sees only those
        threads = [t for t in threads if t.id in limit]
    return json_response({"threads": threads, "seq": seq, "epoch": epoch})


@routes.get(r"/api/v1/threads/{thread_id}/messages")
async def thread_messages(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    limit = int_query(request, "limit", 50, 1, 200)
    before = int_query(request, "before", None, 1, MAX_ID)
    try:
        msgs, has_more = await svc.conversations.thread_messages(
            account.id, _thread_id(request), before=before, limit=limit
        )
    except LookupError:
        raise NotFound() from None
    except PermissionError:
        raise Forbidden(
            "Verify this line's number to see its conversations.", code="phone_unverified"
        ) from None
    return json_response({"messages": msgs, "has_more": has_more})


@routes.post(r"/api/v1/threads/{thread_id}/read")
async def mark_read(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    await _changed(
        svc, account.id, lambda: svc.conversations.mark_read(account.id, _thread_id(request))
    )
    return web.Response(status=204)


@routes.patch(r"/api/v1/threads/{thread_id}")
async def update_thread(request: web.Request) -> web.Response:
    """Mark read/unread (``{"read": bool}``) and archive (``{"archived": bool}``)."""
    svc = services(request)
    account = await verified_account(request, svc)
    data = await read_json(request)
    flags = {k: data[k] for k in ("read", "archived") if k in data}
    if not flags or any(not isinstance(v, bool) for v in flags.values()):
        raise BadRequest("Send 'read' and/or 'archived' as booleans.", code="invalid_body")
    await _changed(
        svc,
        account.id,
        lambda: svc.conversations.update_thread(account.id, _thread_id(request), **flags),
    )
    return web.Response(status=204)


@routes.delete(r"/api/v1/threads/{thread_id}")
async def delete_thread(request: web.Request) -> web.Response:
    """Delete a conversation for good: its bodies are erased, a tombstone propagates."""
    svc = services(request)
    account = await verified_account(request, svc)
    await _changed(
        svc, account.id, lambda: svc.conversations.delete_thread(account.id, _thread_id(request))
    )
    return web.Response(status=204)


@routes.delete(r"/api/v1/messages/{message_id}")
async def delete_message(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    message_id = id_param(request, "message_id")
    await _changed(
        svc, account.id, lambda: svc.conversations.delete_message(account.id, message_id)
    )
    return web.Response(status=204)


@routes.get("/api/v1/search")
async def search(request: web.Request) -> web.Response:
    """Messages containing ``q`` (2 to 100 characters), most recently changed first.

    One request searches for a bounded time; ``before`` in the answer (when not null)
    continues the search with older messages (see ``server/storage/search.py``).
    """
    svc = services(request)
    account = await verified_account(request, svc)
    query = request.query.get("q", "").strip()
    if not 2 <= len(query) <= 100:
        raise BadRequest("Search for 2 to 100 characters.", code="invalid_parameter")
    limit = int_query(request, "limit", 50, 1, 200)
    before = int_query(request, "before", None, 1, MAX_ID)
    page = await svc.search.page(
        account.id, query, limit, before, threads=thread_limit(request)
    )
    return json_response(
        {"messages": page.messages, "before": page.before, "scanned": page.scanned}
    )


async def _changed(svc: Services, account_id: int, action: Callable[[], Awaitable[object]]) -> None:
    """Run a mutation of the account's conversations, then hint its sockets."""
    try:
        result = await action()
    except LookupError:
        raise NotFound() from None
    if result is not False:
        svc.hub.publish(account_id, ChangesHint(await svc.conversations.current_seq(account_id)))


@routes.post("/api/v1/messages")
async def send_message(request: web.Request) -> web.Response:
    """Send an SMS. ``to`` is a number as people write it on the sending line (national
    spellings for the line's country, or international) or a short code; a sender name
    cannot receive texts and is refused with ``cannot_reply_to_name``, and a peer who
    replied STOP on the line with ``409 recipient_opted_out``."""
    svc = services(request)
    account = await verified_account(request, svc)
    data = await read_json(request)
    to_text = string_field(data, "to", max_len=40, code="invalid_number")
    body = data.get("body")
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_BODY_CHARS:
        raise BadRequest(
            f"The message must have 1 to {MAX_BODY_CHARS} characters.", code="invalid_body"
        )
    client_msg_id = string_field(data, "client_msg_id", max_len=64, code="invalid_client_msg_id")
    line = await _sending_line(svc, account.id, data.get("line_id"))
    to = _recipient(to_text, line.number)
    allowed = thread_limit(request)
    if allowed is not None:
        await _within_limit(svc, account.id, allowed, line.id, to)
    try:
        message = await svc.conversations.create_outgoing(
            account.id, line.id, to, body, client_msg_id, svc.clock.now()
        )
    except OptedOut as exc:
        raise Conflict(exc.sentence(), code="recipient_opted_out") from None
    if allowed is not None and message.thread_id not in allowed:
        # Only a reused client_msg_id of another conversation gets here: say nothing of it.
        raise BadRequest("Use a new client_msg_id.", code="invalid_client_msg_id")
    note(request, f"sent a message to {to} in conversation {message.thread_id}")
    svc.hub.publish(account.id, ChangesHint(message.seq))
    svc.registry.wake_outbox(account.id)
    return json_response({"message": message}, status=201)


async def _within_limit(
    svc: Services, account_id: int, allowed: frozenset[int], line_id: int, to: str
) -> None:
    """An app limited to some conversations sends only into those (404 otherwise, as
    for a conversation that does not exist)."""
    threads, _, _ = await svc.conversations.snapshot(account_id)
    if not any(t.id in allowed and t.line_id == line_id and t.peer == to for t in threads):
        raise NotFound("The app may not write to this conversation.")


def _recipient(text: str, line_number: str) -> str:
    """Where a text to ``text`` goes from the line ``line_number``: E.164 or a short code.

    Raises:
        BadRequest: ``cannot_reply_to_name`` for a name, ``invalid_number`` otherwise.
    """
    try:
        peer = classify_peer(text, line_number)
    except InvalidNumber:
        if text.isprintable() and any(c.isalpha() for c in text):
            raise _name_refused("That") from None
        raise BadRequest(_not_a_number(line_number), code="invalid_number") from None
    if not peer.can_reply:
        raise _name_refused(peer.address)
    return peer.address


def _not_a_number(line_number: str) -> str:
    examples = example_spellings(line_number)
    if examples is None:
        return "That is not a phone number or short code. Include the country code."
    national, international = examples
    return (
        "That is not a phone number or short code. Type the number as you would dial it "
        f"on this line's phone, e.g. {national}, or with its country code, e.g. {international}."
    )


def _name_refused(name: str) -> BadRequest:
    return BadRequest(
        f"{name} is a name, not a number: it cannot receive texts. "
        "To reach them, send to their phone number instead.",
        code="cannot_reply_to_name",
    )


async def _sending_line(svc: Services, account_id: int, requested: object) -> Line:
    """The line to send from: the one asked for, else the account's first verified line."""
    lines = await svc.lines.for_account(account_id)
    if requested is not None:
        match = [x for x in lines if x.id == requested and not isinstance(requested, bool)]
        if not match:
            raise NotFound("No such line.")
        line = match[0]
    else:
        verified = [x for x in lines if x.verified]
        if not verified:
            raise Forbidden("Verify your phone number first.", code="phone_unverified")
        line = verified[0]
    if not line.verified:
        raise Forbidden("Verify this line's number first.", code="phone_unverified")
    return line


@routes.get("/api/v1/contacts")
async def list_contacts(request: web.Request) -> web.Response:
    """The phonebooks the account's bridges synced (verified lines only)."""
    svc = services(request)
    account = await verified_account(request, svc)
    found = await svc.contacts.for_account(account.id)
    limit = thread_limit(request)
    if limit is not None:  # only the people of the granted conversations
        threads, _, _ = await svc.conversations.snapshot(account.id)
        peers = {(t.line_id, t.peer) for t in threads if t.id in limit}
        found = [c for c in found if (c.line_id, c.number) in peers]
    return json_response(
        {
            "contacts": [
                {"id": c.id, "name": c.name, "number": c.number, "line_id": c.line_id}
                for c in found
            ]
        }
    )


@routes.get("/api/v1/lines")
async def list_lines(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    lines = await svc.lines.for_account(account.id)
    return json_response(
        {
            "lines": [
                {"id": x.id, "number": x.number, "label": x.label, "verified": x.verified}
                for x in lines
            ]
        }
    )


@routes.get("/api/v1/devices")
async def list_devices(request: web.Request) -> web.Response:
    svc = services(request)
    account = await verified_account(request, svc)
    return json_response({"devices": await device_views(svc, account.id)})
