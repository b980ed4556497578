"""Access tokens: JWTs of the RFC 9068 profile, signed with Ed25519 (``EdDSA``). Pure.

The algorithm is the server's, never the token's: a token is verified with ``EdDSA``
and the Ed25519 key its ``kid`` names, so ``alg: none`` and HS256 signed with the
public key (RFC 8725 §2.1) are both refused before any signature work. ``typ`` must be
``at+jwt`` (RFC 9068 §4), so a JWT of another kind cannot pass as an access token.
Times are checked against the injected ``now``, not the process clock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from server.oauth.errors import InvalidToken

ALGORITHM = "EdDSA"
TYP = "at+jwt"
#: Clock difference between nodes tolerated for ``iat``/``nbf`` (never for ``exp``).
SKEW = 30
#: Longest token read (a grant's conversation list is bounded: core.MAX_CHOSEN).
MAX_TOKEN = 8192
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_REQUIRED = ["iss", "aud", "sub", "exp", "iat", "jti", "client_id", "scope", "grant"]


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    account_id: int
    client_id: str
    grant_id: int
    scopes: tuple[str, ...]
    #: Conversation ids the token is limited to; None: all.
    threads: tuple[int, ...] | None
    jti: str
    iat: int
    exp: int


def sign(
    claims: AccessClaims, *, issuer: str, audience: str, kid: str, key: Ed25519PrivateKey
) -> str:
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": str(claims.account_id),
        "client_id": claims.client_id,
        "scope": " ".join(claims.scopes),
        "grant": claims.grant_id,
        "jti": claims.jti,
        "iat": claims.iat,
        "nbf": claims.iat,
        "exp": claims.exp,
    }
    if claims.threads is not None:
        payload["conversations"] = list(claims.threads)
    return jwt.encode(payload, key, algorithm=ALGORITHM, headers={"typ": TYP, "kid": kid})


def verify(
    token: str,
    keys: Callable[[str], Ed25519PublicKey | None],
    *,
    issuer: str,
    audience: str,
    now: int,
) -> AccessClaims:
    """The claims of a valid access token.

    Raises:
        InvalidToken: malformed, not ``at+jwt``, not EdDSA, unknown key, bad signature,
            wrong ``iss``/``aud``, expired, not yet valid, or missing a claim.
    """
    if len(token) > MAX_TOKEN:
        raise InvalidToken()
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise InvalidToken() from None
    typ, alg, kid = header.get("typ"), header.get("alg"), header.get("kid")
    if not isinstance(typ, str) or typ.lower() not in (TYP, "application/" + TYP):
        raise InvalidToken()
    if alg != ALGORITHM or not isinstance(kid, str) or not _KID.fullmatch(kid):
        raise InvalidToken()
    key = keys(kid)
    if key is None:
        raise InvalidToken()
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": _REQUIRED,
                # Checked below against the injected clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.PyJWTError:
        raise InvalidToken() from None
    return _claims(payload, now)


def _claims(payload: dict[str, Any], now: int) -> AccessClaims:
    exp, iat, nbf = payload["exp"], payload["iat"], payload.get("nbf", payload["iat"])
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (exp, iat, nbf)):
        raise InvalidToken()
    if now >= exp:
        raise InvalidToken("The access token has expired.")
    if nbf > now + SKEW or iat > now + SKEW:
        raise InvalidToken("The access token is not valid yet.")
    sub, grant, threads = payload["sub"], payload["grant"], payload.get("conversations")
    if not (isinstance(sub, str) and sub.isdigit() and len(sub) <= 18):
        raise InvalidToken()
    if not isinstance(grant, int) or isinstance(grant, bool):
        raise InvalidToken()
    if threads is not None and not (
        isinstance(threads, list) and all(type(t) is int for t in threads)
    ):
        raise InvalidToken()
    if not isinstance(payload["scope"], str) or not isinstance(payload["client_id"], str):
        raise InvalidToken()
    return AccessClaims(
        account_id=int(sub),
        client_id=payload["client_id"],
        grant_id=grant,
        scopes=tuple(payload["scope"].split()),
        threads=None if threads is None else tuple(threads),
        jti=str(payload["jti"]),
        iat=iat,
        exp=exp,
    )
