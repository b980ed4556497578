"""``ferry bridge pair``: make this bridge's key pair and register it with a pairing code.

Two ways in, both ending in the same Noise handshake that carries the one-time code:

* the pairing URI (from the QR code) carries the server URL, the server's static key and,
  for a self-signed server, its certificate's SHA-256;
* the typed form is given with the server URL; the server key is fetched from
  ``GET /api/v1/pairing/server-key`` and refused unless it has the code's fingerprint.

Files are written only after the server welcomed the new key, so a failed attempt leaves
the data directory as it was.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import websockets

from device_bridge.credentials import (
    CREDENTIALS_FILE,
    Credentials,
    Identity,
    save_identity,
)
from device_bridge.errors import CredentialsError, LinkError, ServerNotTrusted
from device_bridge.link import check_url, device_url, handshake, open_connection
from protocol.errors import ProtocolError
from protocol.link import generate_keypair
from protocol.messages import SUPPORTED_VERSIONS, DeviceHello, Welcome
from protocol.pairing import (
    InvalidPairingCode,
    PairingUri,
    decode_key,
    encode_key,
    fingerprint_matches,
    normalize_tls_fingerprint,
    parse_pairing_uri,
    split_typed_code,
)

_MAX_KEY_RESPONSE = 4096


@dataclass(frozen=True)
class Paired:
    device_id: int
    lines: list[str]
    server_url: str


def parse_target(first: str, second: str | None, tls_fingerprint: str | None) -> PairingUri | None:
    """The pairing URI, or None for the typed form (``first`` is then the server URL).

    Raises:
        InvalidPairingCode: neither form.
    """
    if first.startswith("ferry-pair:"):
        if second is not None:
            raise InvalidPairingCode("give either a pairing URI or a server URL and a code")
        uri = parse_pairing_uri(first)
        if tls_fingerprint:
            uri = PairingUri(
                uri.server_url, uri.server_key, uri.code, normalize_tls_fingerprint(tls_fingerprint)
            )
        return uri
    if second is None:
        raise InvalidPairingCode("give the pairing URI, or the server URL and the typed code")
    if urlsplit(first).scheme not in ("http", "https"):
        raise InvalidPairingCode("the server URL must start with https:// (or http://)")
    return None


async def fetch_server_key(server_url: str, pin: str | None) -> bytes:
    """The server's static key from its pairing endpoint (checked by the caller).

    Raises:
        LinkError: the server cannot be reached or answered nonsense.
        ServerNotTrusted: the TLS certificate is not the pinned one.
    """
    url = f"{server_url.rstrip('/')}/api/v1/pairing/server-key"
    ssl: object = True
    if pin:
        ssl = aiohttp.Fingerprint(bytes.fromhex(pin))
    timeout = aiohttp.ClientTimeout(total=15)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(url, ssl=ssl, allow_redirects=False) as resp,  # type: ignore[arg-type]
        ):
            if resp.status != 200:
                raise LinkError(f"the server answered {resp.status} for its key")
            body = await resp.content.read(_MAX_KEY_RESPONSE)
    except aiohttp.ServerFingerprintMismatch:
        raise ServerNotTrusted("the server's TLS certificate is not the pinned one") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise ServerNotTrusted(
            f"cannot verify the server's TLS certificate ({exc.certificate_error}); "
            "for a self-signed server give --tls-fingerprint or use the pairing URI"
        ) from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise LinkError(f"cannot reach {server_url}: {type(exc).__name__}") from None
    try:
        return decode_key(json.loads(body)["key"])
    except (ValueError, KeyError, TypeError, InvalidPairingCode):
        raise LinkError("the server's key answer is malformed") from None


async def pair(
    data_dir: Path,
    first: str,
    second: str | None = None,
    *,
    name: str | None = None,
    tls_fingerprint: str | None = None,
    allow_insecure: bool = False,
    force: bool = False,
) -> Paired:
    """Pair this bridge and write its identity into ``data_dir``.

    Args:
        first: a ``ferry-pair:v1?…`` URI, or the server URL when ``second`` is the typed code.
        second: the typed code ``XXXX-XXXX-FFFF-FFFF-FFFF``.
        name: how the device is shown to the user (default: this host's name).
        tls_fingerprint: SHA-256 of a self-signed server certificate to pin.
        allow_insecure: permit plain http/ws to a non-loopback server.
        force: replace an existing pairing in ``data_dir``.

    Raises:
        InvalidPairingCode: the code or URI is malformed.
        CredentialsError: already paired (without ``force``).
        PairingFailed, Unauthorized, ServerNotTrusted, LinkError: see :mod:`device_bridge.link`.
    """
    if (data_dir / CREDENTIALS_FILE).exists() and not force:
        raise CredentialsError(f"{data_dir} already holds a pairing; use --force to replace it")
    uri = parse_target(first, second, tls_fingerprint)
    if uri is None:
        assert second is not None
        code, fingerprint = split_typed_code(second)
        server_url = first.rstrip("/")
        pin = normalize_tls_fingerprint(tls_fingerprint) if tls_fingerprint else None
        check_url(server_url, allow_insecure=allow_insecure)
        server_key = await fetch_server_key(server_url, pin)
        if not fingerprint_matches(code, fingerprint, server_key):
            raise ServerNotTrusted(
                "the server's key does not match the code's fingerprint (wrong server, "
                "mistyped code, or a man in the middle)"
            )
        uri = PairingUri(server_url, server_key, code, pin)
    url = device_url(uri.server_url)
    check_url(url, allow_insecure=allow_insecure)
    private, _ = generate_keypair()
    hello = DeviceHello(
        versions=list(SUPPORTED_VERSIONS),
        pairing_code=uri.code,
        name=(name or socket.gethostname())[:100],
    )
    welcome = await _register(url, uri, private, hello)
    creds = Credentials(uri.server_url, encode_key(uri.server_key), uri.tls_fingerprint)
    save_identity(data_dir, Identity(creds, private))
    return Paired(welcome.device_id, list(welcome.lines), uri.server_url)


async def _register(url: str, uri: PairingUri, private: bytes, hello: DeviceHello) -> Welcome:
    try:
        ws = await open_connection(url, uri.tls_fingerprint)
    except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
        # A server that went away mid-handshake (a restart) is as unreachable as one
        # that never answered: one error, not the websockets library's.
        raise LinkError(f"cannot reach {uri.server_url}: {exc}") from None
    async with ws:
        try:
            session = await handshake(ws, private, uri.server_key, hello, confirm=False)
        except ProtocolError as exc:
            raise LinkError(f"the pairing handshake failed: {exc.code}") from None
        return session.welcome


__all__ = ["Paired", "fetch_server_key", "pair", "parse_target"]
