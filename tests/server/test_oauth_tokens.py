"""Access tokens and the pure rules of the authorization server: forged, confused and
stale tokens (RFC 8725 §2, RFC 9700 §4), PKCE and redirect URI checks. No server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.oauth import core, tokens
from server.oauth.errors import InvalidToken

ISS = "https://ferry.example"
AUD = ISS + "/api/v1"
NOW = 1_800_000_000
KEY = Ed25519PrivateKey.generate()
PUBLIC = KEY.public_key()


def _claims(**over: object) -> tokens.AccessClaims:
    base = dict(
        account_id=7,
        client_id="ferry-app",
        grant_id=3,
        scopes=("messages:read",),
        threads=(1, 2),
        jti="j1",
        iat=NOW,
        exp=NOW + 300,
    )
    base.update(over)
    return tokens.AccessClaims(**base)  # type: ignore[arg-type]


def _sign(claims: tokens.AccessClaims | None = None, *, iss: str = ISS, aud: str = AUD) -> str:
    return tokens.sign(claims or _claims(), issuer=iss, audience=aud, kid="k1", key=KEY)


def _verify(token: str, now: int = NOW) -> tokens.AccessClaims:
    return tokens.verify(
        token, lambda kid: PUBLIC if kid == "k1" else None, issuer=ISS, audience=AUD, now=now
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _forge(header: dict[str, object], payload: dict[str, object], sign: object) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{sign(signing_input.encode())}"  # type: ignore[operator]


def _payload() -> dict[str, object]:
    return jwt.decode(_sign(), options={"verify_signature": False})


def test_a_valid_token_round_trips() -> None:
    got = _verify(_sign())
    assert (got.account_id, got.client_id, got.grant_id) == (7, "ferry-app", 3)
    assert got.scopes == ("messages:read",) and got.threads == (1, 2)


def test_alg_none_is_refused() -> None:
    token = _forge({"alg": "none", "typ": "at+jwt", "kid": "k1"}, _payload(), lambda _: "")
    with pytest.raises(InvalidToken):
        _verify(token)


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic confusion: HMAC keyed with the published public key."""
    for public in (
        PUBLIC.public_bytes(Encoding.Raw, PublicFormat.Raw),
        PUBLIC.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
    ):
        token = _forge(
            {"alg": "HS256", "typ": "at+jwt", "kid": "k1"},
            _payload(),
            lambda data, k=public: _b64(hmac.new(k, data, hashlib.sha256).digest()),
        )
        with pytest.raises(InvalidToken):
            _verify(token)


def test_another_key_under_our_kid_is_refused() -> None:
    other = Ed25519PrivateKey.generate()
    token = tokens.sign(_claims(), issuer=ISS, audience=AUD, kid="k1", key=other)
    with pytest.raises(InvalidToken):
        _verify(token)
    with pytest.raises(InvalidToken):  # a kid we do not have
        _verify(tokens.sign(_claims(), issuer=ISS, audience=AUD, kid="k9", key=KEY))


def test_wrong_audience_or_issuer_is_refused() -> None:
    for token in (_sign(aud=ISS), _sign(aud="https://other.example/api/v1"), _sign(iss=AUD)):
        with pytest.raises(InvalidToken):
            _verify(token)


def test_expired_and_not_yet_valid_tokens_are_refused() -> None:
    token = _sign()
    assert _verify(token, NOW + 299)
    with pytest.raises(InvalidToken, match="expired"):
        _verify(token, NOW + 300)
    with pytest.raises(InvalidToken, match="not valid yet"):
        _verify(token, NOW - tokens.SKEW - 1)


def test_other_jwt_types_and_missing_claims_are_refused() -> None:
    payload = _payload()
    sign = lambda data: _b64(KEY.sign(data))  # noqa: E731
    with pytest.raises(InvalidToken):  # an ID token or other JWT of ours cannot pass
        _verify(_forge({"alg": "EdDSA", "typ": "JWT", "kid": "k1"}, payload, sign))
    for claim in ("exp", "aud", "client_id", "grant", "sub"):
        partial = {k: v for k, v in payload.items() if k != claim}
        with pytest.raises(InvalidToken):
            _verify(_forge({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}, partial, sign))
    tampered = {**payload, "conversations": [1, 2, 3]}
    forged = _forge({"alg": "EdDSA", "typ": "at+jwt", "kid": "k1"}, tampered, lambda _: "x")
    with pytest.raises(InvalidToken):
        _verify(forged)
    for junk in ("", "a.b", "a.b.c", "x" * 9000):
        with pytest.raises(InvalidToken):
            _verify(junk)


def test_pkce_s256_only() -> None:
    verifier = "a" * 43
    challenge = _b64(hashlib.sha256(verifier.encode()).digest())
    assert core.verifier_matches(verifier, challenge)
    assert not core.verifier_matches("b" * 43, challenge)
    assert not core.verifier_matches(challenge, challenge)  # "plain" does not work
    assert not core.verifier_matches(None, challenge)
    assert core.challenge_problem(challenge, "S256") is None
    assert core.challenge_problem(challenge, "plain") is not None
    assert core.challenge_problem(None, None) is not None


def test_redirect_uri_rules_and_origins() -> None:
    assert core.redirect_problem("https://app.example/cb?x=1") is None
    assert core.redirect_problem("http://127.0.0.1:8080/cb") is None
    assert core.redirect_problem("http://[::1]:8080/cb") is None
    for bad in (
        "http://app.example/cb",
        "ftp://app.example/cb",
        "https://u@app.example/cb",
        "https://app.example/cb#",
        "/relative",
        "https://app.example:99999/cb",
        "https://app.example/\\evil",
    ):
        assert core.redirect_problem(bad) is not None, bad
    assert core.origin_of("https://App.example:443/cb") == "https://app.example"
    assert core.origin_of("http://127.0.0.1:8080/cb") == "http://127.0.0.1:8080"
    assert core.origin_of("http://[::1]:80/cb") == "http://[::1]"


def test_the_largest_conversation_limit_fits_a_token() -> None:
    many = tuple(range(10**15, 10**15 + core.MAX_CHOSEN))
    assert _verify(_sign(_claims(threads=many))).threads == many
    with pytest.raises(ValueError):
        core.chosen_threads(list(range(core.MAX_CHOSEN + 1)), range(1000))


def test_scopes_never_grow() -> None:
    asked = core.parse_scope("messages:read contacts:read")
    assert core.narrowed(asked, ["contacts:read"]) == ("contacts:read",)
    with pytest.raises(Exception, match="exceeds"):
        core.narrowed(asked, ["messages:send"])
    with pytest.raises(Exception, match="Unknown"):
        core.parse_scope("messages:read admin")
    assert core.chosen_threads(None, [1, 2]) is None
    assert core.chosen_threads([2, 1, 2], [1, 2, 3]) == (1, 2)
    for bad in ([], [4], [True], "1", [1.0]):
        with pytest.raises(ValueError):
            core.chosen_threads(bad, [1, 2, 3])
