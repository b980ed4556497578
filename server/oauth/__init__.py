"""Third-party web clients by consent: an OAuth 2 authorization server (RFC 6749 with the
RFC 9700 rules), its tokens, and the resource guard every REST route passes.

- ``core``: pure decisions (scopes, redirect URIs, PKCE, durations, request checks)
- ``tokens``: access tokens (RFC 9068 JWTs, EdDSA) signed and verified, pure
- ``keys``: the signing key ring (rotation keeps valid tokens valid)
- ``service``: the flows over storage (consent, codes, refresh, revocation)
- ``endpoints``: metadata, JWKS, authorize, token, revoke, introspect, register
- ``api``: developer apps, consent requests, connected apps, socket tickets (REST)
- ``guard``: bearer authentication, scope and conversation limits, CORS, rate limits
- ``socket``: live updates for a client, opened with a one-time ticket
"""
