"""The emulator's control API (loopback HTTP, JSON), for tests, demos and people.

=======  ===============================  =============================================
method   path                             what
=======  ===============================  =============================================
GET      /phones                          ``[{"number", "pty", "profile"}]``
POST     /phones/{number}/inject          ``{"from", "text"[, "ref_bits"]}``: an SMS arrives
                                          from anyone (long ones with an 8- or 16-bit
                                          concatenation reference)
POST     /phones/{number}/send            ``{"to", "text"}``: the phone's user sends one
GET      /phones/{number}/messages        what the phone received ``[{"from", "text",
                                          "timestamp"}]`` (kept after SIM deletion)
GET      /phones/{number}/sent            what the phone sent ``[{"to", "text", …}]``
GET      /phones/{number}/faults          current faults
POST     /phones/{number}/faults          change faults (see ``profiles.Faults``)
GET      /phones/{number}/contacts        the SIM phonebook ``[{"index", "name", "number"}]``
POST     /phones/{number}/contacts        ``{"name", "number"}``: add a SIM contact
GET      /external                        SMS sent to numbers outside the emulator
=======  ===============================  =============================================

Errors are ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from device_bridge.gsm.errors import EncodeError

from .network import SentSms
from .phonebook import PhonebookEntry

if TYPE_CHECKING:
    from .run import Emulator, Phone

__all__ = ["EMULATOR_KEY", "create_control_app"]

EMULATOR_KEY: web.AppKey[Emulator] = web.AppKey("emulator")
_MAX_BODY = 512 * 1024  # the longest text, every character JSON-escaped
#: Characters: the most 255 GSM-7 parts carry; the codec refuses what needs more parts.
_MAX_TEXT = 255 * 153


def create_control_app(emulator: Emulator) -> web.Application:
    """The control API for ``emulator``."""
    app = web.Application(client_max_size=_MAX_BODY, middlewares=[_errors])
    app[EMULATOR_KEY] = emulator
    app.router.add_get("/phones", list_phones)
    app.router.add_post("/phones/{number}/inject", inject)
    app.router.add_post("/phones/{number}/send", send)
    app.router.add_get("/phones/{number}/messages", received)
    app.router.add_get("/phones/{number}/sent", sent)
    app.router.add_get("/phones/{number}/faults", get_faults)
    app.router.add_post("/phones/{number}/faults", set_faults)
    app.router.add_get("/phones/{number}/contacts", contacts)
    app.router.add_post("/phones/{number}/contacts", add_contact)
    app.router.add_get("/external", external)
    return app


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@web.middleware
async def _errors(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        return await handler(request)
    except _ApiError as exc:
        body = {"error": {"code": exc.code, "message": exc.message}}
        return web.json_response(body, status=exc.status)


def _phone(request: web.Request) -> Phone:
    try:
        return request.app[EMULATOR_KEY].phone(request.match_info["number"])
    except KeyError:
        raise _ApiError(404, "unknown_phone", "no virtual phone has this number") from None


async def _body(request: web.Request, *fields: str) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        raise _ApiError(400, "bad_json", "the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise _ApiError(400, "bad_json", "the body must be a JSON object")
    for name in fields:
        value = data.get(name)
        if not isinstance(value, str) or not value or len(value) > _MAX_TEXT:
            raise _ApiError(400, "bad_field", f"{name!r} must be a non-empty string")
    return data


async def list_phones(request: web.Request) -> web.Response:
    """Every phone's number, tty path and profile."""
    phones = request.app[EMULATOR_KEY].phones
    return web.json_response(
        [{"number": p.number, "pty": p.pty, "profile": p.modem.profile.name} for p in phones]
    )


async def inject(request: web.Request) -> web.Response:
    """Deliver an SMS to the phone from any number or sender name."""
    phone = _phone(request)
    body = await _body(request, "from", "text")
    ref_bits = body.get("ref_bits", 8)
    if ref_bits not in (8, 16) or isinstance(ref_bits, bool):
        raise _ApiError(400, "bad_field", "'ref_bits' must be 8 or 16")
    try:
        phone.modem.deliver(
            body["from"], body["text"], phone.modem.network.clock(), ref_bits=ref_bits
        )
    except EncodeError as exc:
        raise _ApiError(400, "cannot_encode", str(exc)) from None
    return web.json_response({"delivered": True}, status=201)


async def send(request: web.Request) -> web.Response:
    """The phone's user sends an SMS (routed by the network like any other)."""
    phone = _phone(request)
    body = await _body(request, "to", "text")
    try:
        record = phone.modem.network.send_text(phone.number, body["to"], body["text"])
    except EncodeError as exc:
        raise _ApiError(400, "cannot_encode", str(exc)) from None
    return web.json_response({"external": record.external}, status=201)


async def received(request: web.Request) -> web.Response:
    """What the phone received, oldest first."""
    phone = _phone(request)
    return web.json_response(
        [
            {"from": m.sender, "text": m.text, "timestamp": m.timestamp.isoformat()}
            for m in phone.modem.received
        ]
    )


async def sent(request: web.Request) -> web.Response:
    """What the phone sent (by AT+CMGS or through ``/send``), oldest first."""
    phone = _phone(request)
    return web.json_response([_sent_json(m) for m in phone.modem.network.sent[phone.number]])


async def get_faults(request: web.Request) -> web.Response:
    """The phone's current faults."""
    return web.json_response(_phone(request).modem.faults.as_dict())


async def set_faults(request: web.Request) -> web.Response:
    """Change some faults, e.g. ``{"hang": true}`` or ``{"send_error": 42}``."""
    phone = _phone(request)
    body = await _body(request)
    try:
        phone.modem.update_faults(body)
    except ValueError as exc:
        raise _ApiError(400, "bad_fault", str(exc)) from None
    return web.json_response(phone.modem.faults.as_dict())


async def contacts(request: web.Request) -> web.Response:
    """The phone's SIM phonebook, in index order."""
    return web.json_response([_contact_json(e) for e in _phone(request).modem.phonebook.entries()])


async def add_contact(request: web.Request) -> web.Response:
    """Store a contact in the lowest free SIM phonebook slot."""
    phone = _phone(request)
    body = await _body(request, "name", "number")
    try:
        entry = phone.modem.phonebook.add(body["name"], body["number"])
    except ValueError as exc:
        raise _ApiError(400, "bad_contact", str(exc)) from None
    return web.json_response(_contact_json(entry), status=201)


def _contact_json(entry: PhonebookEntry) -> dict[str, object]:
    return {"index": entry.index, "name": entry.name, "number": entry.number}


async def external(request: web.Request) -> web.Response:
    """SMS that left the emulated network, oldest first."""
    return web.json_response([_sent_json(m) for m in request.app[EMULATOR_KEY].network.external])


def _sent_json(message: SentSms) -> dict[str, object]:
    return {
        "from": message.sender,
        "to": message.recipient,
        "text": message.text,
        "timestamp": message.timestamp.isoformat(),
        "external": message.external,
    }
