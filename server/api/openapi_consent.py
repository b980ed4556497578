"""The OpenAPI part of consent and abuse: opt-outs, consent records, broadcasts, terms,
sign-up rules (merged into the document by ``openapi.py``). Built by functions that take
the document's helpers from ``openapi`` when called, so there is no import cycle."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def schemas() -> dict[str, Schema]:
    from server.api import openapi as o

    _S, _I, _NS = o._S, o._I, o._NS
    return {
        "OptOut": o._obj(
            ("line_id", "peer", "keyword", "at"), line_id=_I, peer=_S, keyword=_S, at=_S
        ),
        "Consent": o._obj(
            ("id", "number", "given_at", "recorded_at", "note"),
            id=_I,
            number=_S,
            given_at=_S,
            recorded_at=_S,
            note=_S,
        ),
        "Broadcast": o._obj(
            ("id", "line_id", "body", "created_at", "counts", "recipients"),
            id=_I,
            line_id=_I,
            body=_S,
            created_at=_S,
            cancelled_at=_NS,
            counts={"type": "object", "additionalProperties": _I},
            recipients={
                "type": "array",
                "items": o._obj(
                    ("number", "status", "due_at"),
                    number=_S,
                    status={
                        "type": "string",
                        "description": "queued, skipped_no_consent, skipped_opted_out, "
                        "cancelled; once released its message's: queued, sending, sent, "
                        "delivered, failed, unknown (deleted: its message was deleted)",
                    },
                    due_at=_S,
                    message_id={"type": ["integer", "null"]},
                    error=_NS,
                ),
            },
        ),
        "TermsStatus": o._obj(
            ("version", "accepted"),
            version=_S,
            accepted_version=_NS,
            accepted_at=_NS,
            accepted={"type": "boolean"},
            must_accept={
                "type": "boolean",
                "description": "an earlier version was accepted: ask the user again",
            },
        ),
    }


def paths() -> dict[str, dict[str, Schema]]:
    from server.api import openapi as o

    _S, _I, _op, _obj, _ref, _err = o._S, o._I, o._op, o._obj, o._ref, o._err
    verified = o._VERIFIED
    broadcast_id = o._path_param("broadcast_id", o._ID)
    one = ("200", _obj(("broadcast",), broadcast=_ref("Broadcast")))
    line_id = {"type": "integer", "description": "default: first verified line"}
    return {
        "/api/v1/opt-outs": {
            "get": _op(
                "Peers who replied STOP (or START's opposites) on a line: not texted from it",
                ok=("200", _obj(opt_outs={"type": "array", "items": _ref("OptOut")})),
                errors=verified,
            )
        },
        "/api/v1/consents": {
            "get": _op(
                "Numbers recorded as having agreed to receive the user's messages",
                ok=("200", _obj(consents={"type": "array", "items": _ref("Consent")})),
                errors=verified,
            ),
            "post": _op(
                "Record that a number agreed to receive messages (when, and how)",
                body=_obj(
                    ("number",),
                    number={"type": "string", "maxLength": 40},
                    given_at={"type": "string", "description": "ISO 8601 with zone; not future"},
                    note={"type": "string", "maxLength": 200},
                    line_id=line_id,
                ),
                ok=("201", _obj(("consent",), consent=_ref("Consent"))),
                errors=verified,
            ),
        },
        "/api/v1/consents/{consent_id}": {
            "delete": _op(
                "Withdraw a consent record (queued broadcast messages to it are skipped)",
                params=[o._path_param("consent_id", o._ID)],
                errors={**verified, "404": _err("no such consent record of yours")},
            )
        },
        "/api/v1/broadcasts": {
            "get": _op(
                "The last 50 broadcasts, newest first, with per-recipient status",
                ok=("200", _obj(broadcasts={"type": "array", "items": _ref("Broadcast")})),
                errors=verified,
            ),
            "post": _op(
                "One message to up to 500 numbers: only those with recorded consent and no "
                "STOP, paced per line (idempotent on client_id)",
                body=_obj(
                    ("body", "numbers", "client_id"),
                    body={"type": "string", "minLength": 1, "maxLength": 1600},
                    numbers={"type": "array", "items": _S, "minItems": 1, "maxItems": 500},
                    client_id={"type": "string", "maxLength": 64},
                    line_id=line_id,
                ),
                ok=("201", _obj(("broadcast",), broadcast=_ref("Broadcast"))),
                errors=verified,
            ),
        },
        "/api/v1/broadcasts/{broadcast_id}": {
            "get": _op(
                "A broadcast and its recipients",
                params=[broadcast_id],
                ok=one,
                errors={**verified, "404": _err("no such broadcast of yours")},
            )
        },
        "/api/v1/broadcasts/{broadcast_id}/cancel": {
            "post": _op(
                "Cancel: recipients not yet released are not sent",
                params=[broadcast_id],
                ok=one,
                errors={**verified, "404": _err("no such broadcast of yours")},
            )
        },
        "/api/v1/terms": {
            "get": {
                **_op(
                    "The current terms of use and privacy notice (Markdown) and their version",
                    ok=(
                        "200",
                        _obj(("version", "terms", "privacy"), version=_S, terms=_S, privacy=_S),
                    ),
                ),
                **o._PUBLIC,
            }
        },
        "/api/v1/signup": {
            "get": {
                **_op(
                    "How sign-up works here: mode (open, invite, closed), allowed countries, "
                    "the terms version to accept",
                    ok=(
                        "200",
                        _obj(
                            ("mode", "countries", "terms_version"),
                            mode={"enum": ["open", "invite", "closed"]},
                            countries={"type": "array", "items": _S},
                            terms_version=_S,
                        ),
                    ),
                ),
                **o._PUBLIC,
            }
        },
        "/api/v1/me/terms": {
            "get": _op(
                "Whether the account accepted the current terms (the web client asks again "
                "while not)",
                ok=("200", _ref("TermsStatus")),
                errors=o._AUTH,
            ),
            "post": _op(
                "Accept the current terms version",
                body=_obj(("version",), version=_S),
                ok=("200", _ref("TermsStatus")),
                errors={**o._AUTH, "409": _err("terms_changed: not the current version")},
            ),
        },
    }


def signup_body() -> Schema:
    """The sign-up request, with the terms and invite fields."""
    from server.api import openapi as o

    return o._obj(
        ("phone", "password", "accept_terms"),
        phone=o._PHONE,
        password=o._PASSWORD,
        email=o._S,
        accept_terms={"type": "string", "description": "the terms version the user accepted"},
        invite={"type": "string", "maxLength": 64, "description": "with FERRY_SIGNUP=invite"},
    )


#: Refusals of the sign-up request that do not depend on the number having an account.
SIGNUP_ERRORS = (
    "csrf_rejected, signup_closed, invite_required, invite_invalid, country_not_allowed "
    "(403); "
    "terms_changed (409); sms_budget_spent (429)"
)
