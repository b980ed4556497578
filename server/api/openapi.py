"""The OpenAPI 3.1 document of the REST API, served at ``/api/v1/openapi.json``.

A test checks that every route the app serves is documented here and nothing else is, and
schemathesis fuzzes every operation from it (``tests/server/test_fuzz.py``), so numbers
carry the ranges the handlers enforce. Errors always have the shape
``{"error": {"code", "message"}}``; ``429`` carries ``Retry-After``. The two websockets
are documented as ``GET`` upgrades. The session cookie is named as this server sets it.
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from aiohttp import web

from server.api import openapi_consent as consent_api
from server.api import openapi_oauth as oauth_api
from server.api.common import MAX_ID, services
from server.auth.web import SECURE_COOKIE, cookie_name
from server.oauth.guard import ROUTES

routes = web.RouteTableDef()

Schema = dict[str, Any]


def _obj(required: tuple[str, ...] = (), **props: Schema) -> Schema:
    return {"type": "object", "properties": props, "required": list(required)}


_S: Schema = {"type": "string"}
_I: Schema = {"type": "integer"}
_B: Schema = {"type": "boolean"}
_NS: Schema = {"type": ["string", "null"]}
_PHONE: Schema = {"type": "string", "description": "any common spelling; stored as E.164"}
_PASSWORD: Schema = {
    "type": "string",
    "minLength": 8,
    "maxLength": 128,
    "description": "any Unicode; not a common password",
}
_CODE: Schema = {"type": "string", "pattern": "^[0-9]{6}$"}
#: A row id in a path (``id_param``: larger ones are 404 like any unknown id).
_ID: Schema = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
_LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
_BEFORE: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
#: Operations open to everyone (no session needed).
_PUBLIC: Schema = {"security": []}

SCHEMAS: dict[str, Schema] = {
    "Error": _obj(("error",), error=_obj(("code", "message"), code=_S, message=_S)),
    "Account": _obj(
        ("id", "phone", "phone_verified"),
        id=_I,
        phone=_S,
        phone_verified=_B,
        email=_NS,
        display_name=_NS,
        created_at=_NS,
    ),
    "AccountResponse": _obj(("account",), account={"$ref": "#/components/schemas/Account"}),
    "Me": _obj(
        ("account",),
        account={"$ref": "#/components/schemas/Account"},
        code_send={
            "description": "while the number is unverified: how the last code send went",
            "oneOf": [
                _obj(
                    ("state",),
                    state={"enum": ["sending", "sent", "failed"]},
                    error=_NS,
                    at=_NS,
                ),
                {"type": "null"},
            ],
        },
    ),
    "CodeSent": _obj(
        ("status", "message"),
        status={"const": "code_sent"},
        message=_S,
        sent={"type": "boolean", "description": "true: the SMS gateway accepted the code"},
    ),
    "Session": _obj(
        ("id", "current"),
        id=_S,
        current=_B,
        created_at=_S,
        last_seen_at=_S,
        expires_at=_S,
        user_agent=_S,
        ip=_NS,
    ),
    "Privacy": _obj(
        ("settings", "stored", "server"),
        settings=_obj(
            ("mask_sent", "retention_days", "troubleshoot_until"),
            mask_sent=_B,
            retention_days={"type": ["integer", "null"]},
            troubleshoot_until=_NS,
        ),
        stored=_obj(
            (
                "messages",
                "masked",
                "deleted",
                "threads",
                "contacts",
                "attachments",
                "attachment_bytes",
                "body_bytes",
                "lines",
                "devices",
                "sessions",
                "security_events",
            ),
            messages=_I,
            masked=_I,
            deleted=_I,
            threads=_I,
            contacts=_I,
            attachments=_I,
            attachment_bytes=_I,
            body_bytes=_I,
            lines=_I,
            devices=_I,
            sessions=_I,
            security_events=_I,
        ),
        server=_obj(
            ("access_log_days", "tombstone_days", "max_retention_days", "max_troubleshoot_hours"),
            access_log_days=_I,
            tombstone_days=_I,
            max_retention_days=_I,
            max_troubleshoot_hours=_I,
        ),
    ),
    "StaffAccess": _obj(
        ("id", "at", "operator", "action", "reason"),
        id=_I,
        at=_S,
        operator=_S,
        action={"enum": ["inspect", "read_messages", "read_messages_refused", "security_events"]},
        reason=_S,
    ),
    "SecurityEvent": _obj(("id", "kind", "at"), id=_I, kind=_S, at=_S, ip=_NS, user_agent=_NS),
    "Message": _obj(
        ("id", "thread_id", "peer", "direction", "body", "status", "timestamp", "seq"),
        id=_I,
        thread_id=_I,
        peer=_S,
        direction={"enum": ["in", "out"]},
        body=_S,
        status=_S,
        timestamp=_S,
        seq=_I,
        client_msg_id=_NS,
        error=_NS,
        incomplete=_B,
        deleted=_B,
        masked={
            "type": "boolean",
            "description": "masked for good: the content was destroyed; body is *****",
        },
        refused={
            "type": ["string", "null"],
            "description": "a placeholder for an SMS the server could not store: the reason",
        },
        error_detail={
            "type": ["string", "null"],
            "description": "the technical words behind error (the modem's answer)",
        },
        attachments={
            "type": "array",
            "items": {"$ref": "#/components/schemas/Attachment"},
            "description": "MMS parts, in order (metadata; bytes at /api/v1/attachments/{id})",
        },
    ),
    "Attachment": _obj(
        ("id", "mime", "size"),
        id=_I,
        mime={"type": "string", "description": "lower-case type/subtype"},
        size={"type": "integer", "description": "bytes"},
        name={"type": ["string", "null"], "description": "the sender's file name, if any"},
    ),
    "Thread": _obj(
        ("id", "peer", "title", "last_activity", "unread", "seq"),
        id=_I,
        peer=_S,
        title=_S,
        last_activity=_S,
        unread=_I,
        seq=_I,
        last_message={"oneOf": [{"$ref": "#/components/schemas/Message"}, {"type": "null"}]},
        line_id=_I,
        line=_S,
        archived=_B,
        deleted=_B,
    ),
    "DataJob": _obj(
        ("id", "kind", "state", "done", "total", "created_at", "expires_at"),
        id=_I,
        kind={"enum": ["export", "import"]},
        state={"enum": ["running", "ready", "downloaded", "expired", "done", "failed"]},
        done={"type": "integer", "description": "messages written (export) or bytes read"},
        total={"type": "integer", "description": "of this many (0 until known)"},
        size={"type": ["integer", "null"], "description": "a ready export's size in bytes"},
        summary={
            "description": "what an import did",
            "oneOf": [
                _obj(
                    read=_I,
                    added=_I,
                    already_there=_I,
                    refused=_I,
                    drafts_skipped=_I,
                    contacts=_I,
                ),
                {"type": "null"},
            ],
        },
        error={"type": ["string", "null"], "description": "why it failed, in words"},
        created_at=_S,
        expires_at={"type": "string", "description": "a ready export is deleted then"},
        downloadable={
            "type": "boolean",
            "description": "a ready export this session may download (the one that asked)",
        },
    ),
    "Contact": _obj(("id", "name", "number", "line_id"), id=_I, name=_S, number=_S, line_id=_I),
    "Line": _obj(("id", "number", "verified"), id=_I, number=_S, label=_S, verified=_B),
    "Device": _obj(
        ("id", "name", "online"),
        id=_I,
        name=_S,
        online=_B,
        last_seen=_NS,
        signal_dbm={"type": ["integer", "null"]},
        operator=_NS,
        lines={"type": "array", "items": _S},
        modem_state={"enum": ["ready", "not_responding", "starting", None]},
    ),
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: Schema) -> Schema:
    return {"content": {"application/json": {"schema": schema}}}


def _err(description: str) -> Schema:
    return {"description": description, **_json(_ref("Error"))}


_COMMON_ERRORS = {
    "400": _err("invalid request (code says which field)"),
    "403": _err("cross-site request (csrf_rejected)"),
    "413": _err("body too large"),
    "429": {**_err("too many attempts"), "headers": {"Retry-After": {"schema": _I}}},
}
_AUTH = {"401": _err("not signed in")}
#: Password checks run on a bounded pool; when it is saturated the answer comes at once.
_BUSY = {
    "503": {
        **_err("server_busy: every password worker is busy; retry after Retry-After"),
        "headers": {"Retry-After": {"schema": _I}},
    }
}
_VERIFIED = {**_AUTH, "403": _err("phone_unverified, or csrf_rejected")}


def _op(
    summary: str,
    *,
    body: Schema | None = None,
    ok: tuple[str, Schema | None] = ("204", None),
    errors: dict[str, Schema] | None = None,
    params: list[Schema] | None = None,
) -> Schema:
    code, schema = ok
    op: Schema = {
        "summary": summary,
        "responses": {
            code: {"description": "success", **(_json(schema) if schema else {})},
            **_COMMON_ERRORS,
            **(errors or {}),
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, **_json(body)}
    if params:
        op["parameters"] = params
    return op


def _path_param(name: str, schema: Schema) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: Schema, *, required: bool = False) -> Schema:
    return {"name": name, "in": "query", "required": required, "schema": schema}


_ACCOUNT = ("200", _ref("AccountResponse"))
_SENT = ("202", _ref("CodeSent"))
#: The SMS gateway did not take the code (with Retry-After).
_NOT_SENT = {"502": _err("sms_refused"), "503": _err("sms_unavailable")}
_THREAD_ID = _path_param("thread_id", _ID)
_LINE_ID = _path_param("line_id", _ID)
_JOB_ID = _path_param("job_id", _ID)

PATHS: dict[str, dict[str, Schema]] = {
    "/healthz": {
        "get": {**_op("Liveness: the process answers", ok=("200", _obj(status=_S))), **_PUBLIC}
    },
    "/readyz": {
        "get": {
            **_op(
                "Readiness: database reachable, migrations current, Redis (if configured)",
                ok=("200", _obj(("status", "checks"), status=_S, checks={"type": "object"})),
                errors={"503": _err("not ready; checks names what is wrong")},
            ),
            **_PUBLIC,
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus metrics (bearer FERRY_METRICS_TOKEN, or loopback only)",
            "responses": {
                "200": {
                    "description": "text exposition format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                },
                "401": _err("the metrics token is missing or wrong"),
                "403": _err("no token configured and the request is not local"),
            },
            **_PUBLIC,
        }
    },
    "/api/v1/openapi.json": {
        "get": {**_op("This document", ok=("200", {"type": "object"})), **_PUBLIC}
    },
    "/api/v1/accounts": {
        "post": {
            **_op(
                "Sign up (same answer whether or not the number has an account; code by SMS)",
                body=consent_api.signup_body(),
                ok=_SENT,
                errors={
                    "403": _err(consent_api.SIGNUP_ERRORS),
                    "409": _err("terms_changed"),
                    "429": {
                        **_err("too many attempts, or sms_budget_spent"),
                        "headers": {"Retry-After": {"schema": _I}},
                    },
                    **_BUSY,
                },
            ),
            **_PUBLIC,
        }
    },
    "/api/v1/session": {
        "post": {
            **_op(
                "Sign in; sets the session cookie",
                body=_obj(("phone", "password"), phone=_PHONE, password=_S),
                ok=_ACCOUNT,
                errors={"401": _err("invalid_credentials"), **_BUSY},
            ),
            **_PUBLIC,
        },
        "delete": {
            **_op("Sign out; ends the session and its sockets (204 also when signed out)"),
            "security": [{"session": []}, {}],
        },
    },
    "/api/v1/me": {
        "get": _op("The signed-in account", ok=("200", _ref("Me")), errors=_AUTH),
        "patch": _op(
            "Edit profile", body=_obj(email=_NS, display_name=_NS), ok=_ACCOUNT, errors=_AUTH
        ),
    },
    "/api/v1/me/password": {
        "post": _op(
            "Change password (current password required); ends every other session",
            body=_obj(
                ("current_password", "new_password"), current_password=_S, new_password=_PASSWORD
            ),
            errors={**_AUTH, **_BUSY, "403": _err("wrong_password")},
        )
    },
    "/api/v1/me/sessions": {
        "get": _op(
            "Live sessions of the account",
            ok=("200", _obj(sessions={"type": "array", "items": _ref("Session")})),
            errors=_AUTH,
        ),
        "delete": _op("Sign out everywhere else", errors=_AUTH),
    },
    "/api/v1/me/sessions/{session_id}": {
        "delete": _op(
            "End one session (and its sockets)",
            params=[_path_param("session_id", _S)],
            errors={**_AUTH, "404": _err("not one of your sessions")},
        )
    },
    "/api/v1/me/security-events": {
        "get": _op(
            "Security events, newest first",
            params=[_query("limit", _LIMIT), _query("before", _BEFORE)],
            ok=("200", _obj(events={"type": "array", "items": _ref("SecurityEvent")})),
            errors=_AUTH,
        )
    },
    "/api/v1/me/phone/code": {
        "post": _op(
            "Send (again) the code verifying the account's number",
            ok=_SENT,
            errors={**_AUTH, **_NOT_SENT, "409": _err("already_verified")},
        )
    },
    "/api/v1/me/phone/verify": {
        "post": _op(
            "Verify the account's number with the code",
            body=_obj(("code",), code=_CODE),
            ok=_ACCOUNT,
            errors=_AUTH,
        )
    },
    "/api/v1/me/phone/change": {
        "post": _op(
            "Start a change of number (password again; code to the new number)",
            body=_obj(("phone", "password"), phone=_PHONE, password=_S),
            ok=_SENT,
            errors={
                **_AUTH,
                **_NOT_SENT,
                "503": _err("sms_unavailable, or server_busy (password workers saturated)"),
                "403": _err("wrong_password, country_not_allowed"),
            },
        )
    },
    "/api/v1/me/phone/change/confirm": {
        "post": _op(
            "Confirm the new number with its code",
            body=_obj(("code",), code=_CODE),
            ok=_ACCOUNT,
            errors={**_AUTH, "409": _err("phone_taken")},
        )
    },
    "/api/v1/password-reset": {
        "post": {
            **_op(
                "Ask for a reset code by SMS (same answer for every number)",
                body=_obj(("phone",), phone=_PHONE),
                ok=_SENT,
            ),
            **_PUBLIC,
        }
    },
    "/api/v1/password-reset/confirm": {
        "post": {
            **_op(
                "Set a new password with the reset code; ends every session, signs this one in",
                body=_obj(
                    ("phone", "code", "password"), phone=_PHONE, code=_CODE, password=_PASSWORD
                ),
                ok=_ACCOUNT,
                errors=_BUSY,
            ),
            **_PUBLIC,
        }
    },
    "/api/v1/threads": {
        "get": _op(
            "Conversations",
            ok=("200", _obj(threads={"type": "array", "items": _ref("Thread")}, seq=_I, epoch=_S)),
            errors=_VERIFIED,
        )
    },
    "/api/v1/threads/{thread_id}/messages": {
        "get": _op(
            "Messages of a conversation, newest page first",
            params=[_THREAD_ID, _query("limit", _LIMIT), _query("before", _BEFORE)],
            ok=("200", _obj(messages={"type": "array", "items": _ref("Message")}, has_more=_B)),
            errors={**_VERIFIED, "404": _err("no such thread of yours")},
        )
    },
    "/api/v1/threads/{thread_id}": {
        "patch": _op(
            "Mark a conversation read or unread, archive or unarchive it",
            params=[_THREAD_ID],
            body=_obj(read=_B, archived=_B),
            errors={**_VERIFIED, "404": _err("no such thread of yours")},
        ),
        "delete": _op(
            "Delete a conversation: bodies are erased, deletion propagates to every client",
            params=[_THREAD_ID],
            errors={**_VERIFIED, "404": _err("no such thread of yours")},
        ),
    },
    "/api/v1/messages/{message_id}": {
        "delete": _op(
            "Delete one message (erased; a queued send is cancelled)",
            params=[_path_param("message_id", _ID)],
            errors={**_VERIFIED, "404": _err("no such message of yours")},
        )
    },
    "/api/v1/messages/{message_id}/mask": {
        "post": _op(
            "Mask one message for good: its text and attachments are destroyed; it shows "
            "***** everywhere (irreversible; a queued send is cancelled)",
            params=[_path_param("message_id", _ID)],
            errors={**_VERIFIED, "404": _err("no such message of yours")},
        )
    },
    "/api/v1/threads/{thread_id}/mask": {
        "post": _op(
            "Mask every message of a conversation for good (irreversible)",
            params=[_THREAD_ID],
            errors={**_VERIFIED, "404": _err("no such conversation of yours")},
        )
    },
    "/api/v1/me/privacy": {
        "get": _op(
            "What Ferry stores about the account, and its privacy settings",
            ok=("200", _ref("Privacy")),
            errors=_AUTH,
        ),
        "patch": _op(
            "Change privacy settings (each change is a security event)",
            body=_obj(
                mask_sent={"type": "boolean", "description": "mask every SMS once sent"},
                retention_days={
                    "type": ["integer", "null"],
                    "minimum": 1,
                    "maximum": 3650,
                    "description": "delete messages older than this; null keeps them",
                },
                troubleshoot_hours={
                    "type": ["integer", "null"],
                    "minimum": 0,
                    "maximum": 72,
                    "description": "operators may read message contents this long; 0 ends it",
                },
            ),
            ok=("200", _ref("Privacy")),
            errors=_AUTH,
        ),
    },
    "/api/v1/me/access-history": {
        "get": _op(
            "Every look of an operator into the account (ferry admin), newest first",
            ok=(
                "200",
                _obj(("accesses",), accesses={"type": "array", "items": _ref("StaffAccess")}),
            ),
            errors=_AUTH,
        )
    },
    "/api/v1/me/delete": {
        "post": _op(
            "Delete the account (password required): its data key is destroyed at once, "
            "every session, socket and bridge ends, rows are purged; the number may sign "
            "up again",
            body=_obj(("password",), password=_S),
            errors={**_AUTH, "403": _err("wrong_password")},
        )
    },
    "/api/v1/attachments/{attachment_id}": {
        "get": {
            "summary": (
                "An attachment's bytes. PNG, JPEG, GIF and WebP are served inline with their "
                "type (download=1 makes them a download); everything else as "
                "application/octet-stream with Content-Disposition: attachment. Always "
                "nosniff, a sandboxing CSP and private immutable caching"
            ),
            "parameters": [
                _path_param("attachment_id", _ID),
                _query("download", {"enum": ["1"]}),
            ],
            "responses": {
                "200": {
                    "description": "the bytes",
                    "content": {
                        "image/*": {"schema": {"type": "string", "format": "binary"}},
                        "application/octet-stream": {
                            "schema": {"type": "string", "format": "binary"}
                        },
                    },
                },
                **_VERIFIED,
                "404": _err("no such attachment of yours (or not on a verified line)"),
            },
        }
    },
    "/api/v1/exports": {
        "post": _op(
            "Start exporting everything Ferry keeps about the account (a ZIP: JSON, SMS "
            "Backup & Restore XML, vCard), in the background",
            ok=("202", _obj(("job",), job=_ref("DataJob"))),
            errors={**_VERIFIED, "409": _err("export_running")},
        )
    },
    "/api/v1/exports/{job_id}/file": {
        "get": {
            "summary": (
                "Download a ready export: once, only in the session that started it and "
                "only from the page's own origin; the file is deleted as it is sent"
            ),
            "parameters": [_JOB_ID],
            "responses": {
                "200": {
                    "description": "the ZIP",
                    "content": {
                        "application/zip": {"schema": {"type": "string", "format": "binary"}}
                    },
                },
                **_VERIFIED,
                "404": _err("export_unavailable (downloaded, expired, another session's)"),
            },
        }
    },
    "/api/v1/imports": {
        "post": {
            **_op(
                "Import an SMS Backup & Restore XML file or a vCard file (the raw body, at most "
                "1 GiB) into a verified line (default: the account's own number), in the "
                "background; messages already stored are skipped",
                ok=("202", _obj(("job",), job=_ref("DataJob"))),
                params=[
                    _query("format", {"enum": ["sms-backup", "vcard"]}),
                    _query("line", _ID),
                ],
                errors={
                    **_VERIFIED,
                    "400": _err("invalid_format, invalid_line"),
                    "409": _err("import_running"),
                    "413": _err("the file is larger than an import may be"),
                },
            ),
            "requestBody": {
                "required": True,
                "content": {
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                },
            },
        }
    },
    "/api/v1/data-jobs": {
        "get": _op(
            "The account's latest exports and imports, newest first, with their progress",
            ok=("200", _obj(("jobs",), jobs={"type": "array", "items": _ref("DataJob")})),
            errors=_VERIFIED,
        )
    },
    "/api/v1/data-jobs/{job_id}": {
        "get": _op(
            "One export or import, with its progress",
            params=[_JOB_ID],
            ok=("200", _obj(("job",), job=_ref("DataJob"))),
            errors={**_VERIFIED, "404": _err("no such job of yours")},
        )
    },
    "/api/v1/search": {
        "get": _op(
            "Messages containing q (2 to 100 characters), most recently changed first. One "
            "request searches for a bounded time; a non-null `before` continues with older "
            "messages",
            params=[
                _query("q", {"type": "string", "minLength": 2, "maxLength": 100}, required=True),
                _query("limit", _LIMIT),
                _query("before", _ID),
            ],
            ok=(
                "200",
                _obj(
                    ("messages", "before", "scanned"),
                    messages={"type": "array", "items": _ref("Message")},
                    before={"type": ["integer", "null"], "minimum": 1},
                    scanned={"type": "integer", "minimum": 0},
                ),
            ),
            errors=_VERIFIED,
        )
    },
    "/api/v1/contacts": {
        "get": _op(
            "Contacts synced from the phone or SIM (verified lines), by name",
            ok=("200", _obj(contacts={"type": "array", "items": _ref("Contact")})),
            errors=_VERIFIED,
        )
    },
    "/api/v1/lines": {
        "get": _op(
            "The account's phone numbers (lines) and whether each is verified",
            ok=("200", _obj(lines={"type": "array", "items": _ref("Line")})),
            errors=_VERIFIED,
        )
    },
    "/api/v1/threads/{thread_id}/read": {
        "post": _op(
            "Mark a conversation read",
            params=[_THREAD_ID],
            errors={**_VERIFIED, "404": _err("no such thread of yours")},
        )
    },
    "/api/v1/messages": {
        "post": _op(
            "Send an SMS through the account's bridge (idempotent on client_msg_id)",
            body=_obj(
                ("to", "body", "client_msg_id"),
                to={
                    "type": "string",
                    "maxLength": 40,
                    "description": "a number as written on the sending line (national spellings "
                    "for its country) or internationally, stored as E.164; or a short code. "
                    "A sender name is refused: 400 cannot_reply_to_name",
                },
                body=_S,
                client_msg_id=_S,
                line_id={"type": "integer", "description": "default: first verified line"},
            ),
            ok=("201", _obj(message=_ref("Message"))),
            errors={**_VERIFIED, "409": _err("recipient_opted_out: they replied STOP")},
        )
    },
    "/api/v1/devices": {
        "get": _op(
            "The account's bridges",
            ok=("200", _obj(devices={"type": "array", "items": _ref("Device")})),
            errors=_VERIFIED,
        )
    },
    "/api/v1/devices/{device_id}": {
        "patch": _op(
            "Rename a bridge",
            params=[_path_param("device_id", _ID)],
            body=_obj(("name",), name=_S),
            ok=("200", _obj(("device",), device=_ref("Device"))),
            errors={**_VERIFIED, "404": _err("no such device of yours")},
        ),
        "delete": _op(
            "Revoke a bridge: disconnected at once; its key can never connect again",
            params=[_path_param("device_id", _ID)],
            errors={**_VERIFIED, "404": _err("no such device of yours")},
        ),
    },
    "/api/v1/pairing-codes": {
        "post": {
            **_op(
                "A one-time pairing code (10 minutes) as a URI, QR code (SVG) and typed form, "
                "for a bridge serving the account's own number or, with number (verified "
                "accounts), another phone's number, added as an unverified line",
                ok=(
                    "201",
                    _obj(
                        ("code", "uri", "qr_svg", "expires_at"),
                        code=_S,
                        uri=_S,
                        qr_svg=_S,
                        expires_at=_S,
                        line_id={"type": ["integer", "null"]},
                    ),
                ),
                errors={
                    **_VERIFIED,
                    "400": _err("invalid_number"),
                    "409": _err("device_limit, number_taken"),
                },
            ),
            "requestBody": {"required": False, **_json(_obj(number=_PHONE))},
        }
    },
    "/api/v1/lines/{line_id}": {
        "patch": _op(
            "Label a line (at most 50 characters on one line)",
            params=[_LINE_ID],
            body=_obj(("label",), label={"type": "string", "maxLength": 50}),
            ok=("200", _obj(("line",), line=_ref("Line"))),
            errors={**_VERIFIED, "400": _err("invalid_label"), "404": _err("no such line")},
        )
    },
    "/api/v1/lines/{line_id}/code": {
        "post": _op(
            "Text a code to an unverified line's number (its bridge may submit it by itself)",
            params=[_LINE_ID],
            ok=_SENT,
            errors={
                **_VERIFIED,
                **_NOT_SENT,
                "403": _err("phone_unverified, csrf_rejected, country_not_allowed"),
                "404": _err("no such line"),
                "409": _err("already_verified"),
            },
        )
    },
    "/api/v1/lines/{line_id}/verify": {
        "post": _op(
            "Verify a line with the code texted to its number",
            params=[_LINE_ID],
            body=_obj(("code",), code=_CODE),
            ok=("200", _obj(("line",), line=_ref("Line"))),
            errors={**_VERIFIED, "400": _err("invalid_code"), "404": _err("no such line")},
        )
    },
    "/api/v1/pairing/server-key": {
        "get": {
            **_op(
                "The server's static device-link public key (base64url), for typed pairing codes",
                ok=("200", _obj(("key",), key=_S)),
            ),
            **_PUBLIC,
        }
    },
    "/api/v1/ws": {
        "get": _op(
            "Browser websocket (Origin checked; session cookie; verified number)",
            ok=("101", None),
            errors=_VERIFIED,
        )
    },
    "/api/v1/device": {
        "get": {
            **_op(
                "Device-bridge websocket (authenticated by the Noise handshake inside it)",
                ok=("101", None),
            ),
            **_PUBLIC,
        }
    },
}


# Third-party apps (server/oauth): the bearer scheme and their endpoints.
OAUTH_SCHEME, OAUTH_PATHS = oauth_api.build()

PATHS.update(OAUTH_PATHS)
# Routes open to apps: a session cookie, or a bearer token with the route's scope.
for (_method, _path), _rule in ROUTES.items():
    PATHS[_path][_method.lower()]["security"] = [
        {"session": []},
        {"oauth": [_rule.scope]},
    ]

PATHS.update(consent_api.paths())
SCHEMAS.update(consent_api.schemas())


def document(cookie: str) -> dict[str, Any]:
    """The document for a server whose session cookie is named ``cookie``."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Ferry sync server", "version": "1"},
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": cookie},
                "oauth": OAUTH_SCHEME,
            },
        },
        "security": [{"session": []}],
    }


#: The document of a production server (``__Host-`` cookie).
DOCUMENT = document(SECURE_COOKIE)


@functools.cache
def _encoded(cookie: str) -> bytes:
    return msgspec.json.encode(document(cookie))


@routes.get("/api/v1/openapi.json")
async def openapi_document(request: web.Request) -> web.Response:
    body = _encoded(cookie_name(services(request)))
    return web.Response(body=body, content_type="application/json")
