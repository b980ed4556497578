"""Helpers shared by the REST handlers: bounded JSON bodies, typed app access."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from protocol.phone import InvalidNumber, to_e164
from server.auth.passwords import MAX_LENGTH, password_problem
from server.errors import BadRequest, NotFound, PayloadTooLarge
from server.services import Services

SERVICES: web.AppKey[Services] = web.AppKey("services", Services)

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


async def read_json(request: web.Request, limit: int | None = None) -> dict[str, Any]:
    """The request's JSON object body, bounded in size and nesting depth.

    Raises:
        PayloadTooLarge: over the limit.
        BadRequest: not ``application/json``, not JSON, too deep, or not an object.
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
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    if _depth(data) > _MAX_DEPTH:
        raise BadRequest("The body is nested too deeply.", code="invalid_json")
    return data


def _depth(value: Any, level: int = 1) -> int:
    if level > _MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level)
    return level


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
    "SERVICES",
    "json_response",
    "new_password_field",
    "phone_field",
    "read_json",
    "services",
    "string_field",
]
