"""The authorization server's flows over storage; handlers (``endpoints``, ``api``,
``guard``) stay thin. Decisions come from ``core`` and ``tokens``; time from the clock.

Per grant::

    consent (approve) ─▶ grant + code (10 min, one use)
    code + verifier ─▶ access token (JWT, ≤ 10 min) + refresh token (opaque, one use)
    refresh token ─▶ new access token + new refresh token; the old one is spent
    a spent code or refresh token presented again ─▶ the grant is revoked
    revoke (user or client), expiry ─▶ every token of the grant stops at once
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import jwt
from sqlalchemy.ext.asyncio import AsyncEngine

from server.auth.throttle import Limiter
from server.clock import Clock
from server.config import Config
from server.oauth import core, tokens
from server.oauth.errors import (
    InvalidClient,
    InvalidClientMetadata,
    InvalidGrant,
    InvalidToken,
    OAuthError,
    UnsupportedGrantType,
)
from server.oauth.keys import SigningKeys
from server.oauth.sockets import ClientSockets, Wakeups
from server.storage.oauth_clients import Client, ClientStore, KeyStore
from server.storage.oauth_grants import Grant, GrantStore, PendingRequest, Redeemed

MAX_NAME = 100


@dataclass(frozen=True)
class Registered:
    client: Client
    #: Shown once, to whoever registered it; only its hash is kept.
    secret: str | None


@dataclass(frozen=True)
class Bearer:
    """A request's verified access token and the live grant behind it."""

    claims: tokens.AccessClaims
    grant: Grant

    @property
    def threads(self) -> frozenset[int] | None:
        return None if self.claims.threads is None else frozenset(self.claims.threads)


class OAuth:
    def __init__(
        self,
        engine: AsyncEngine,
        master: bytes,
        clock: Clock,
        config: Config,
        *,
        limiter: Limiter,
        registrations: Limiter,
    ) -> None:
        self.clients = ClientStore(engine)
        self.grants = GrantStore(engine)
        self.keys = SigningKeys(KeyStore(engine), master, access_ttl=config.oauth_access_ttl)
        self.clock = clock
        self.config = config
        #: Requests per client per minute (all its users together).
        self.limiter = limiter
        #: Dynamic registrations per address.
        self.registrations = registrations
        self.sockets = ClientSockets()
        #: App sockets waiting for their account's changes (fed by the hub's observer).
        self.wakeups = Wakeups()

    async def sweep_sockets(self) -> int:
        """Close the sockets of grants that were revoked or expired."""
        return await self.sockets.sweep(lambda ids: self.grants.live_ids(ids, self.clock.now()))

    async def maintain(self) -> None:
        """A signing key exists and is rotated on time; expired records go."""
        await self.keys.maintain(
            self.clock.now(), self.clock.monotonic(), rotate_after=self.config.oauth_key_rotation
        )
        now = self.clock.now()
        await self.grants.prune(
            now - core.CODE_TTL, keep_until=now - self.config.access_log_retention
        )

    # ------------------------------------------------------------ registration

    async def register(
        self,
        *,
        account_id: int | None,
        name: object,
        redirect_uris: object,
        logo_uri: object = None,
        confidential: bool,
    ) -> Registered:
        """Register a client.

        Raises:
            InvalidClientMetadata: a bad name, logo or redirect URI (the description says
                which and why).
        """
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise InvalidClientMetadata(f"Give the app a name of 1 to {MAX_NAME} characters.")
        if not isinstance(redirect_uris, list) or not 1 <= len(redirect_uris) <= core.MAX_REDIRECTS:
            raise InvalidClientMetadata(
                f"Give 1 to {core.MAX_REDIRECTS} redirect URIs.", error="invalid_redirect_uri"
            )
        for uri in redirect_uris:
            problem = core.redirect_problem(uri)
            if problem:
                raise InvalidClientMetadata(
                    problem[0].upper() + problem[1:] + ".", error="invalid_redirect_uri"
                )
        if logo_uri is not None and (
            not isinstance(logo_uri, str)
            or len(logo_uri) > core.MAX_URI
            or not logo_uri.startswith("https://")
            or core.redirect_problem(logo_uri)
        ):
            raise InvalidClientMetadata("The logo must be an https URL.")
        secret = core.new_secret() if confidential else None
        client_id = "ferry-" + secrets.token_urlsafe(18)
        uris = sorted(set(redirect_uris))
        pk = await self.clients.create(
            client_id,
            account_id=account_id,
            name=name.strip(),
            logo_uri=logo_uri,
            secret_hash=core.digest(secret) if secret else None,
            redirect_uris=[(u, core.origin_of(u)) for u in uris],
            now=self.clock.now(),
        )
        client = await self.clients.by_pk(pk)
        assert client is not None
        return Registered(client, secret)

    # ------------------------------------------------------------ authorization

    async def start(self, query: Mapping[str, str]) -> tuple[str, core.AuthorizationRequest]:
        """Check an authorization request and keep it for the consent screen; returns
        the handle the consent screen loads it by.

        Raises:
            OAuthError: unknown client or redirect URI (shown to the user, not redirected).
            core.RedirectableError: any other problem (sent back to the client).
        """
        client_id = query.get("client_id")
        client = await self.clients.by_client_id(client_id) if client_id else None
        if client is None:
            raise OAuthError("This app is not registered with this Ferry server.")
        checked = core.check_request(query, client.redirect_uris)
        handle = core.new_secret()
        now = self.clock.now()
        await self.grants.add_request(
            core.digest(handle),
            client_pk=client.id,
            redirect_uri=checked.redirect_uri,
            scopes=checked.scopes,
            state=checked.state,
            challenge=checked.challenge,
            now=now,
            expires_at=now + core.REQUEST_TTL,
        )
        return handle, checked

    async def pending(self, handle: object) -> tuple[PendingRequest, Client] | None:
        """A request waiting for the user's decision, and its client."""
        if not core.looks_like_secret(handle):
            return None
        found = await self.grants.request(core.digest(str(handle)), self.clock.now())
        if found is None:
            return None
        client = await self.clients.by_pk(found.client_pk)
        return None if client is None else (found, client)

    async def approve(
        self,
        handle: str,
        pending: PendingRequest,
        *,
        account_id: int,
        scopes: tuple[str, ...],
        threads: tuple[int, ...] | None,
        expires_at: datetime | None,
        issuer: str,
    ) -> tuple[int, str] | None:
        """Consent given: (grant id, where to send the browser); None if the request was
        decided meanwhile."""
        code = core.new_secret()
        now = self.clock.now()
        grant_id = await self.grants.approve(
            core.digest(handle),
            account_id=account_id,
            scopes=scopes,
            threads=threads,
            expires_at=expires_at,
            code_hash=core.digest(code),
            code_expires_at=now + core.CODE_TTL,
            now=now,
        )
        if grant_id is None:
            return None
        return grant_id, core.with_params(
            pending.redirect_uri, {"code": code, "state": pending.state, "iss": issuer}
        )

    async def deny(self, handle: str, pending: PendingRequest, issuer: str) -> str | None:
        if not await self.grants.close_request(core.digest(handle), self.clock.now()):
            return None
        return error_redirect(
            pending.redirect_uri,
            "access_denied",
            "The user did not allow access.",
            pending.state,
            issuer,
        )

    # ------------------------------------------------------------ token endpoint

    async def authenticate_client(
        self, form: Mapping[str, str], authorization: str | None
    ) -> Client:
        """The client making a token, revocation or introspection request (RFC 6749
        §2.3.1: HTTP Basic or body parameters; a public client names itself only).

        Raises:
            InvalidClient: unknown, secret wrong, missing, or given to a public client.
        """
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization is not None:
            client_id, secret = _basic(authorization)
            if form.get("client_id") not in (None, client_id):
                raise InvalidClient("Two different client ids were sent.")
        if not client_id or len(client_id) > 64:
            raise InvalidClient("Say which client you are (client_id).")
        client = await self.clients.by_client_id(client_id)
        if client is None:
            raise InvalidClient("Unknown client.")
        if client.secret_hash is None:
            if secret is not None:
                raise InvalidClient("This is a public client: it has no secret.")
            return client
        if not secret or not core.same_secret(secret, client.secret_hash):
            raise InvalidClient("Wrong or missing client secret.")
        return client

    async def token(self, form: Mapping[str, str], client: Client, issuer: str) -> dict[str, Any]:
        """A token response (RFC 6749 §5.1) for the authorization code or refresh grant.

        Raises:
            OAuthError: a subclass saying what is wrong (invalid_grant, invalid_scope, ...).
        """
        grant_type = form.get("grant_type")
        if grant_type == "authorization_code":
            return await self._exchange_code(form, client, issuer)
        if grant_type == "refresh_token":
            return await self._refresh(form, client, issuer)
        raise UnsupportedGrantType("Use authorization_code or refresh_token.")

    async def _exchange_code(
        self, form: Mapping[str, str], client: Client, issuer: str
    ) -> dict[str, Any]:
        code = form.get("code")
        if not core.looks_like_secret(code):
            raise InvalidGrant("The code is not valid.")
        found = await self.grants.redeem_code(core.digest(str(code)), self.clock.now())
        if found.outcome is Redeemed.REPLAYED:
            raise InvalidGrant("The code was used already; what it gave is revoked.")
        if found.outcome is not Redeemed.OK or found.grant is None:
            if found.grant is not None:
                await self.grants.revoke(found.grant.id, self.clock.now())
            raise InvalidGrant("The code is not valid or has expired.")
        grant = found.grant
        problem = None
        if grant.client_id != client.client_id:
            problem = "The code was issued to another client."
        elif form.get("redirect_uri") != found.redirect_uri:
            problem = "redirect_uri differs from the authorization request's."
        elif not core.verifier_matches(form.get("code_verifier"), found.challenge):
            problem = "code_verifier is missing or does not match the code challenge."
        if problem:
            # Whoever holds this code is not the client it was for: nothing may come of it.
            await self.grants.revoke(grant.id, self.clock.now())
            raise InvalidGrant(problem)
        return await self._issue(grant, grant.scopes, issuer)

    async def _refresh(
        self, form: Mapping[str, str], client: Client, issuer: str
    ) -> dict[str, Any]:
        old = form.get("refresh_token")
        if not core.looks_like_secret(old):
            raise InvalidGrant("The refresh token is not valid.")
        asked = form.get("scope")
        wanted = None if asked is None else core.parse_scope(asked)
        owner = await self.grants.refresh_grant(core.digest(str(old)), unused_only=False)
        if owner is None or owner.client_id != client.client_id:
            raise InvalidGrant("The refresh token is not valid.")
        found = await self.grants.rotate_refresh(
            core.digest(str(old)), core.digest(new := core.new_secret()), self.clock.now()
        )
        if found.outcome is Redeemed.REPLAYED:
            raise InvalidGrant("The refresh token was used already; the grant is revoked.")
        if found.outcome is not Redeemed.OK or found.grant is None:
            raise InvalidGrant("The refresh token has expired or was revoked.")
        scopes = found.scopes if wanted is None else core.narrowed(found.scopes, wanted)
        return await self._issue(found.grant, scopes, issuer, refresh=new)

    async def _issue(
        self, grant: Grant, scopes: tuple[str, ...], issuer: str, *, refresh: str | None = None
    ) -> dict[str, Any]:
        now = self.clock.now()
        if refresh is None:  # a code exchange: the grant's first refresh token
            refresh = core.new_secret()
            await self.grants.add_refresh(core.digest(refresh), grant.id, grant.scopes, now)
        access, lifetime = await self.access_token(grant, scopes, issuer)
        return {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "refresh_token": refresh,
            "scope": core.scope_text(scopes),
        }

    async def access_token(
        self, grant: Grant, scopes: tuple[str, ...], issuer: str
    ) -> tuple[str, int]:
        """A signed access token for ``grant`` and its lifetime in seconds (never past
        the grant's end)."""
        now = int(self.clock.now().timestamp())
        exp = now + self.config.oauth_access_ttl
        if grant.expires_at is not None:
            exp = min(exp, int(grant.expires_at.timestamp()))
        key = await self.keys.signing(self.clock.monotonic())
        claims = tokens.AccessClaims(
            account_id=grant.account_id,
            client_id=grant.client_id,
            grant_id=grant.id,
            scopes=scopes,
            threads=grant.threads,
            jti=secrets.token_urlsafe(16),
            iat=now,
            exp=exp,
        )
        signed = tokens.sign(
            claims, issuer=issuer, audience=audience(issuer), kid=key.kid, key=key.private
        )
        return signed, exp - now

    # ------------------------------------------------------------ bearer tokens

    async def bearer(self, token: str, issuer: str) -> Bearer:
        """Verify an access token and the grant behind it (revoked or expired grants end
        their tokens at once).

        Raises:
            InvalidToken: see :func:`tokens.verify`; or the grant ended.
        """
        claims = await self._verify(token, issuer)
        grant = await self.grants.grant(claims.grant_id)
        if (
            grant is None
            or not grant.live(self.clock.now())
            or grant.client_id != claims.client_id
            or grant.account_id != claims.account_id
        ):
            raise InvalidToken("The app's access was revoked or has expired.")
        return Bearer(claims, grant)

    async def _verify(self, token: str, issuer: str) -> tokens.AccessClaims:
        monotonic = self.clock.monotonic()
        # Keys may reload from the database: look them up before the pure verification.
        try:
            header_kid = _kid(token)
        except ValueError:
            raise InvalidToken() from None
        key = await self.keys.public(header_kid, monotonic) if header_kid else None
        return tokens.verify(
            token,
            lambda kid: key if kid == header_kid else None,
            issuer=issuer,
            audience=audience(issuer),
            now=int(self.clock.now().timestamp()),
        )

    async def revoke_token(self, token: str, client: Client, issuer: str) -> bool:
        """RFC 7009: end the grant behind a refresh or access token of ``client``.
        Unknown tokens and other clients' tokens are ignored (the answer is the same)."""
        grant_id = None
        if core.looks_like_secret(token):
            grant = await self.grants.refresh_grant(core.digest(token), unused_only=True)
            if grant is not None and grant.client_id == client.client_id:
                grant_id = grant.id
        else:
            try:
                claims = await self._verify(token, issuer)
            except InvalidToken:
                return False
            if claims.client_id == client.client_id:
                grant_id = claims.grant_id
        if grant_id is None:
            return False
        return await self.grants.revoke(grant_id, self.clock.now())

    async def introspect(self, token: str, client: Client, issuer: str) -> dict[str, Any]:
        """RFC 7662, for confidential clients, about their own tokens only."""
        inactive = {"active": False}
        now = self.clock.now()
        if core.looks_like_secret(token):
            grant = await self.grants.refresh_grant(core.digest(token), unused_only=True)
            if grant is None or grant.client_id != client.client_id or not grant.live(now):
                return inactive
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": grant.client_id,
                "scope": core.scope_text(grant.scopes),
                "sub": str(grant.account_id),
                "iss": issuer,
                **({"exp": int(grant.expires_at.timestamp())} if grant.expires_at else {}),
            }
        try:
            found = await self.bearer(token, issuer)
        except InvalidToken:
            return inactive
        claims = found.claims
        if claims.client_id != client.client_id:
            return inactive
        body: dict[str, Any] = {
            "active": True,
            "token_type": "Bearer",
            "client_id": claims.client_id,
            "scope": core.scope_text(claims.scopes),
            "sub": str(claims.account_id),
            "iss": issuer,
            "aud": audience(issuer),
            "exp": claims.exp,
            "iat": claims.iat,
            "jti": claims.jti,
        }
        if claims.threads is not None:
            body["conversations"] = list(claims.threads)
        return body

    # ------------------------------------------------------------ socket tickets

    async def new_ticket(self, grant: Grant) -> str:
        ticket = core.new_secret()
        await self.grants.add_ticket(
            core.digest(ticket), grant.id, self.clock.now() + core.TICKET_TTL
        )
        return ticket

    async def use_ticket(self, ticket: str) -> Grant | None:
        """The live grant a one-time socket ticket was made for."""
        if not core.looks_like_secret(ticket):
            return None
        grant_id = await self.grants.take_ticket(core.digest(ticket), self.clock.now())
        if grant_id is None:
            return None
        grant = await self.grants.grant(grant_id)
        return grant if grant is not None and grant.live(self.clock.now()) else None


def audience(issuer: str) -> str:
    """The resource server's identifier, the ``aud`` of every access token."""
    return issuer + "/api/v1"


def error_redirect(
    redirect_uri: str, error: str, description: str, state: str | None, issuer: str
) -> str:
    return core.with_params(
        redirect_uri,
        {"error": error, "error_description": description, "state": state, "iss": issuer},
    )


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or len(value) > 1024:
        raise InvalidClient("Use HTTP Basic authentication for the client.")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise InvalidClient("Malformed client credentials.") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise InvalidClient("Malformed client credentials.")
    return unquote_plus(client_id), unquote_plus(secret)


def _kid(token: str) -> str | None:
    """The ``kid`` of a token's header, to fetch the key before verification."""
    if len(token) > tokens.MAX_TOKEN:
        raise ValueError("too long")
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise ValueError("malformed") from None
    return kid if isinstance(kid, str) and len(kid) <= 32 else None
