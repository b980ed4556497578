"""Pure decisions of the authorization server: no I/O, no clock reads.

Rules (RFC 6749, RFC 7636, RFC 9700 §2.1 and §4.1):

- Redirect URIs are absolute ``https`` URIs, or ``http`` on a loopback address; no
  fragment, no user info, no wildcard. A request's URI must equal a registered one
  character for character (no normalisation: case, trailing slash, port, path and query
  all count).
- PKCE with ``S256`` only: ``plain`` and a missing challenge are refused, and the token
  request must carry the verifier.
- Scopes are the four below; what is granted is the intersection of what was asked and
  what the user ticked, never more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode, urlsplit

from server.oauth.errors import InvalidScope, OAuthError

#: Each scope and what it lets an app do, in the words the consent screen uses.
SCOPES: Mapping[str, str] = {
    "messages:read": "Read your conversations and their messages",
    "messages:send": "Send text messages from your number",
    "contacts:read": "See the names in your phone's contacts",
    "account:read": "See your account: your numbers and paired phones",
}

#: How long a grant may last, as offered on the consent screen (None: until revoked).
DURATIONS: Mapping[str, timedelta | None] = {
    "1h": timedelta(hours=1),
    "1d": timedelta(days=1),
    "30d": timedelta(days=30),
    "forever": None,
}

CODE_TTL = timedelta(minutes=10)
REQUEST_TTL = timedelta(minutes=10)
TICKET_TTL = timedelta(seconds=30)
#: Longest access token life (RFC 9068 tokens cannot be recalled once copied elsewhere;
#: the guard checks the grant on every call anyway).
MAX_ACCESS_TTL = 600

MAX_URI = 500
#: Most conversations a limited grant may name: they travel in every access token.
MAX_CHOSEN = 100
MAX_STATE = 500
MAX_REDIRECTS = 5
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")
#: What :func:`new_secret` makes; nothing else is looked up.
_SECRET = re.compile(r"[A-Za-z0-9_-]{20,100}")
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f\\]")


def new_secret() -> str:
    """A fresh secret (codes, refresh tokens, client secrets, tickets): 256 bits."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> bytes:
    """What is stored of a secret: its SHA-256 (secrets here have 256 bits of entropy,
    so a slow hash would add nothing)."""
    return hashlib.sha256(secret.encode()).digest()


def looks_like_secret(value: object) -> bool:
    return isinstance(value, str) and _SECRET.fullmatch(value) is not None


def same_secret(secret: str, stored: bytes) -> bool:
    return hmac.compare_digest(digest(secret), stored)


# ------------------------------------------------------------------ redirect URIs


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def redirect_problem(uri: object) -> str | None:
    """Why ``uri`` cannot be registered as a redirect URI; None when it can."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI:
        return f"a redirect URI is a string of at most {MAX_URI} characters"
    if _CONTROL.search(uri):
        return "a redirect URI has no spaces, control characters or backslashes"
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return "the redirect URI is not a valid URI"
    del port
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        return "a redirect URI is an absolute https URI"
    if parts.scheme == "http" and not _loopback(host):
        return "plain http is allowed only on a loopback address (127.0.0.1, [::1])"
    if "@" in parts.netloc:
        return "a redirect URI has no user name or password"
    if parts.fragment or "#" in uri:
        return "a redirect URI has no fragment"
    if "*" in uri:
        return "a redirect URI has no wildcards"
    return None


def origin_of(uri: str) -> str:
    """The web origin (scheme, host, port) of a registered redirect URI, as browsers
    send it in ``Origin``."""
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"https": 443, "http": 80}[parts.scheme]
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{parts.scheme}://{host}{port}"


def with_params(uri: str, params: Mapping[str, str | None]) -> str:
    """``uri`` with the response parameters appended to its query (RFC 6749 §4.1.2)."""
    query = urlencode({k: v for k, v in params.items() if v is not None})
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


# ------------------------------------------------------------------ scopes


def parse_scope(text: object) -> tuple[str, ...]:
    """A scope parameter as a tuple of known scopes, in the canonical order.

    Raises:
        InvalidScope: not a string, empty, or naming a scope that does not exist.
    """
    if not isinstance(text, str) or len(text) > 200:
        raise InvalidScope("Ask for one or more scopes, separated by spaces.")
    asked = set(text.split())
    unknown = asked - set(SCOPES)
    if unknown:
        raise InvalidScope(f"Unknown scope: {sorted(unknown)[0][:40]}.")
    if not asked:
        raise InvalidScope("Ask for at least one scope.")
    return tuple(s for s in SCOPES if s in asked)


def scope_text(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


def narrowed(granted: tuple[str, ...], wanted: Iterable[str]) -> tuple[str, ...]:
    """The scopes of ``granted`` that are also in ``wanted`` (never more than granted).

    Raises:
        InvalidScope: ``wanted`` names something not granted, or nothing.
    """
    wanted = set(wanted)
    if not wanted <= set(granted):
        raise InvalidScope("The scope asked for exceeds what was granted.")
    if not wanted:
        raise InvalidScope("Ask for at least one scope.")
    return tuple(s for s in granted if s in wanted)


# ------------------------------------------------------------------ PKCE


def challenge_problem(challenge: object, method: object) -> str | None:
    """Why a code challenge is refused (RFC 9700 §2.1.1: S256 only); None if fine."""
    if challenge is None:
        return "PKCE is required: send code_challenge and code_challenge_method=S256."
    if method != "S256":
        return "Only code_challenge_method=S256 is supported."
    if not isinstance(challenge, str) or not _CHALLENGE.fullmatch(challenge):
        return "code_challenge must be the base64url SHA-256 of the verifier (43 characters)."
    return None


def verifier_matches(verifier: object, challenge: str) -> bool:
    """RFC 7636 §4.6 with S256, compared in constant time."""
    if not isinstance(verifier, str) or not _VERIFIER.fullmatch(verifier):
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return hmac.compare_digest(computed.rstrip(b"=").decode(), challenge)


# ------------------------------------------------------------------ requests


@dataclass(frozen=True)
class AuthorizationRequest:
    """A checked authorization request (RFC 6749 §4.1.1 with PKCE)."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    challenge: str


class RedirectableError(OAuthError):
    """An error the client learns through its redirect URI (the URI itself was fine)."""


def check_request(query: Mapping[str, str], registered: Iterable[str]) -> AuthorizationRequest:
    """Check an authorization request against the client's redirect URIs.

    Raises:
        OAuthError: the redirect URI is missing or not registered (the user is told;
            nothing is sent to the URI).
        RedirectableError: anything else (sent to the redirect URI with ``state``).
    """
    redirect_uri = query.get("redirect_uri")
    if redirect_uri is None or redirect_uri not in set(registered):
        raise OAuthError("The redirect_uri is not one this app registered.")
    if query.get("response_type") != "code":
        raise RedirectableError(
            "Only response_type=code is supported.", error="unsupported_response_type"
        )
    state = query.get("state")
    if state is not None and len(state) > MAX_STATE:
        raise RedirectableError(f"state is longer than {MAX_STATE} characters.")
    problem = challenge_problem(query.get("code_challenge"), query.get("code_challenge_method"))
    if problem:
        raise RedirectableError(problem)
    try:
        scopes = parse_scope(query.get("scope", ""))
    except InvalidScope as exc:
        raise RedirectableError(exc.description, error="invalid_scope") from None
    return AuthorizationRequest(
        query["client_id"], redirect_uri, scopes, state, query["code_challenge"]
    )


def expiry(now: datetime, duration: object) -> datetime | None:
    """When a grant of ``duration`` (a key of :data:`DURATIONS`) ends; None: never.

    Raises:
        KeyError: not a known duration.
    """
    if not isinstance(duration, str):
        raise KeyError(duration)
    span = DURATIONS[duration]
    return None if span is None else now + span


def chosen_threads(chosen: object, available: Iterable[int]) -> tuple[int, ...] | None:
    """The conversation limit the user ticked: None for all; else ids of the account's
    own conversations only (at least one).

    Raises:
        ValueError: not a list of the account's conversation ids, or empty.
    """
    if chosen is None:
        return None
    if not isinstance(chosen, list) or not chosen:
        raise ValueError("choose at least one conversation, or all")
    if len(chosen) > MAX_CHOSEN:
        raise ValueError(f"choose at most {MAX_CHOSEN}, or all")
    own = set(available)
    if any(isinstance(t, bool) or not isinstance(t, int) or t not in own for t in chosen):
        raise ValueError("choose among your own conversations")
    return tuple(sorted(set(chosen)))
