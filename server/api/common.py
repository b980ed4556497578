"""Helpers shared by the REST handlers: bounded JSON bodies, typed app access."""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from aiohttp import web

from protocol.codec import check_json
from protocol.errors import NestingTooDeep, NumberOutOfRange
from protocol.phone import InvalidNumber, to_e164
from server.auth.passwords import MAX_LENGTH, PasswordsBusy, password_problem
from server.errors import BadRequest, Busy, NotFound, PayloadTooLarge
from server.services import Services

D = TypeVar("D", int, None)

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)

#: Largest row id or sequence number (ids are signed 64-bit database integers).
MAX_ID = 2**63 - 1

#: Deepest nesting of a REST body: every body is one flat object.
_MAX_DEPTH = 8
#: Body limit of the account and session routes: a few short fields.
AUTH_BODY_BYTES = 4 * 1024


def services(request: web.Request) -> Services:
    return request.app[SERVICES]


def id_param(request: web.Request, name: str) -> int:
    """A row id from the path: a positive integer that fits a database key, else the
    same 404 as a row that does not exist."""
    raw = request.match_info[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) == 0:
        raise NotFound()
    return int(raw)


def int_query(request: web.Request, name: str, default: D, lo: int, hi: int) -> int | D:
    """An integer query parameter within ``[lo, hi]``; ``default`` when it is absent.

    Raises:
        BadRequest(invalid_parameter): not a decimal integer, or out of range.
    """
    raw = request.query.get(name)
    if raw is None:
        return default
    # Plain ASCII digits only (int() would also take "1_000", " 7" or Arabic-Indic
    # digits), and no more of them than the range can need: int() of a huge string is
    # itself slow.
    digits = raw[1:] if raw.startswith("-") else raw
    fits = digits.isascii() and digits.isdigit() and len(digits) <= len(str(max(-lo, hi)))
    if not fits or not lo <= int(raw) <= hi:
        raise BadRequest(
            f"'{name}' must be an integer from {lo} to {hi}.", code="invalid_parameter"
        )
    return int(raw)


def require_websocket(request: web.Request) -> None:
    """Refuse a plain HTTP request to a websocket-only address before any state is taken.

    Raises:
        BadRequest(websocket_required): not a websocket upgrade aiohttp would accept.
    """
    if not web.WebSocketResponse().can_prepare(request).ok:
        raise BadRequest(
            "This address takes websocket connections only.", code="websocket_required"
        )


async def read_json(request: web.Request, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object body, bounded in size and nesting depth.

    Raises:
        PayloadTooLarge: over the limit.
        BadRequest: not ``application/json``, not JSON, too deep, an integer out of the
            64-bit range, or not an object.
    """
    limit = limit or services(request).config.max_body_bytes
    if request.content_type != "application/json":
        raise BadRequest("Send the body as application/json.", code="unsupported_media_type")
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge()
    raw = await request.content.read(limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge()
    try:
        # Before the decoder, which recurses once per level and takes integers of any size.
        check_json(raw, _MAX_DEPTH)
        data = msgspec.json.decode(raw)
    except NestingTooDeep:
        raise BadRequest("The body is nested too deeply.", code="invalid_json") from None
    except NumberOutOfRange:
        raise BadRequest("A number in the body is out of range.", code="invalid_json") from None
    except msgspec.DecodeError:
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return data


def string_field(data: dict[str, Any], name: str, *, max_len: int, code: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise BadRequest(
            f"'{name}' must be a non-empty string of at most {max_len} characters.", code=code
        )
    return value


def phone_field(data: dict[str, Any], name: str = "phone") -> str:
    """A phone number in any common spelling, as E.164; 400 ``invalid_number`` if not one."""
    value = data.get(name)
    try:
        if not isinstance(value, str):
            raise InvalidNumber("not a string")
        return to_e164(value)
    except InvalidNumber:
        raise BadRequest(
            "That is not a valid phone number; include the country code, e.g. +44 20 7946 0000.",
            code="invalid_number",
        ) from None


def new_password_field(data: dict[str, Any], name: str = "password") -> str:
    """A password the policy accepts; 400 ``weak_password`` with the reason otherwise."""
    value = data.get(name)
    if not isinstance(value, str) or len(value) > 4 * MAX_LENGTH:
        raise BadRequest("Choose a password of 8 to 128 characters.", code="weak_password")
    problem = password_problem(value)
    if problem:
        raise BadRequest(problem, code="weak_password")
    return value


def json_response(obj: Any, status: int = 200) -> web.Response:
    """Serialise msgspec structs and plain data alike."""
    return web.Response(
        body=msgspec.json.encode(obj), status=status, content_type="application/json"
    )


__all__ = [
    "AUTH_BODY_BYTES",
    "MAX_ID",
    "SERVICES",
    "id_param",
    "int_query",
    "json_response",
    "new_password_field",
    "phone_field",
    "read_json",
    "require_websocket",
    "services",
    "string_field",
]


async def hash_password(svc: Services, password: str) -> str:
    """argon2id hash off the event loop; 503 ``server_busy`` when every worker is taken."""
    try:
        return await svc.passwords.hash_off_loop(password)
    except PasswordsBusy:
        raise Busy() from None


async def check_password(svc: Services, stored_hash: str | None, password: str) -> bool:
    """argon2id verification off the event loop; 503 ``server_busy`` when saturated."""
    try:
        return await svc.passwords.verify_off_loop(stored_hash, password)
    except PasswordsBusy:
        raise Busy() from None
