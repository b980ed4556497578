"""Pairing codes and the bridge's credential file (pure encode/decode).

A signed-in user asks the server for a pairing code; the bridge uses it once to register
its freshly made static key over the Noise link. The code comes in two forms:

* the **pairing URI** (shown as a QR code) carries everything::

      ferry-pair:v1?url=https%3A%2F%2Fhost%3A8443&key=<server public key, base64url>
                   &code=ABCDEFGH[&tls=<SHA-256 of a self-signed certificate, hex>]

* the **typed form** ``ABCD-EFGH-FFFF-FFFF-FFFF`` is the one-time part (8 base32 characters,
  40 bits) followed by a 60-bit fingerprint of the server's public key (12 characters). It is
  typed together with the server URL; the bridge fetches the server key over HTTP(S) and
  refuses it unless its fingerprint matches. The fingerprint is keyed by the one-time part
  (``SHA-256("ferry-pair/1" || code || key)``): a fixed 60-bit fingerprint of a long-lived
  server key could be matched by a key searched offline for weeks, while this one changes
  with every code and can only be attacked in the ten minutes the code lives, without
  knowing the code.

The credential file (``device.json``) holds the server URL, the server's static public key
and optionally the SHA-256 pin of its TLS certificate. The bridge's private key lives next
to it in ``device.key`` (0600), never in this file.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import parse_qs, urlencode, urlsplit

import msgspec

from protocol.errors import MalformedMessage

_MAX = 4096
_MAX_URI = 1024

#: Scheme and version of pairing URIs.
URI_PREFIX = "ferry-pair:v1"
#: The RFC 4648 base32 alphabet; typed codes are case-insensitive.
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
#: Characters of the one-time part (5 bits each: 40 bits).
CODE_CHARS = 8
#: Characters of the server-key fingerprint (5 bits each: 60 bits).
FINGERPRINT_CHARS = 12
KEY_BYTES = 32
# Look-alikes a person may type for base32 characters (base32 has no 0, 1 or 8).
_TYPO = str.maketrans({"0": "O", "1": "I", "8": "B"})


class InvalidPairingCode(MalformedMessage):
    """Text that is not a pairing code or pairing URI."""

    code = "invalid_pairing_code"


# ---------------------------------------------------------------- codes


def normalize_code(text: str) -> str:
    """Upper-case, drop separators and fix look-alike digits.

    Raises:
        InvalidPairingCode: characters outside the base32 alphabet remain.
    """
    cleaned = "".join(text.split()).replace("-", "").upper().translate(_TYPO)
    if not cleaned or len(cleaned) > 64 or any(c not in ALPHABET for c in cleaned):
        raise InvalidPairingCode("not a pairing code")
    return cleaned


def key_fingerprint(code: str, server_public: bytes) -> str:
    """The 12-character fingerprint of ``server_public``, keyed by the one-time ``code``."""
    digest = hashlib.sha256(b"ferry-pair/1\0" + code.encode() + b"\0" + server_public).digest()
    return base64.b32encode(digest[:10]).decode()[:FINGERPRINT_CHARS]


def typed_code(code: str, server_public: bytes) -> str:
    """``XXXX-XXXX-FFFF-FFFF-FFFF``: the one-time part plus the server-key fingerprint."""
    text = code + key_fingerprint(code, server_public)
    return "-".join(text[i : i + 4] for i in range(0, len(text), 4))


def split_typed_code(text: str) -> tuple[str, str]:
    """``(one-time part, fingerprint)`` of a typed code.

    Raises:
        InvalidPairingCode: not 20 base32 characters.
    """
    cleaned = normalize_code(text)
    if len(cleaned) != CODE_CHARS + FINGERPRINT_CHARS:
        raise InvalidPairingCode(
            f"a typed pairing code has {CODE_CHARS + FINGERPRINT_CHARS} characters"
        )
    return cleaned[:CODE_CHARS], cleaned[CODE_CHARS:]


def fingerprint_matches(code: str, fingerprint: str, server_public: bytes) -> bool:
    """Does ``server_public`` have the ``fingerprint`` typed with ``code``?"""
    return hmac.compare_digest(key_fingerprint(code, server_public), fingerprint)


# ---------------------------------------------------------------- URIs


class PairingUri(msgspec.Struct, frozen=True):
    """What a pairing URI carries."""

    server_url: str
    server_key: bytes
    code: str
    tls_fingerprint: str | None = None


def encode_key(key: bytes) -> str:
    """A raw public key as unpadded base64url."""
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def decode_key(text: str) -> bytes:
    """Raises InvalidPairingCode unless ``text`` is a base64(url) 32-byte key."""
    try:
        raw = base64.urlsafe_b64decode(text.replace("+", "-").replace("/", "_") + "==")
    except (binascii.Error, ValueError):
        raise InvalidPairingCode("the server key is not base64") from None
    if len(raw) != KEY_BYTES:
        raise InvalidPairingCode("the server key is not 32 bytes")
    return raw


def normalize_tls_fingerprint(text: str) -> str:
    """A SHA-256 certificate fingerprint as 64 lower-case hex digits (colons allowed).

    Raises:
        InvalidPairingCode: not a SHA-256 fingerprint.
    """
    cleaned = text.replace(":", "").strip().lower()
    if len(cleaned) != 64 or any(c not in "0123456789abcdef" for c in cleaned):
        raise InvalidPairingCode("a TLS fingerprint is a SHA-256 in hex")
    return cleaned


def pairing_uri(uri: PairingUri) -> str:
    query = {"url": uri.server_url, "key": encode_key(uri.server_key), "code": uri.code}
    if uri.tls_fingerprint:
        query["tls"] = uri.tls_fingerprint
    return f"{URI_PREFIX}?{urlencode(query)}"


def parse_pairing_uri(text: str) -> PairingUri:
    """Parse a ``ferry-pair:v1?…`` URI.

    Raises:
        InvalidPairingCode: not a pairing URI of this version, or a field is missing or bad.
    """
    text = text.strip()
    prefix, _, query = text.partition("?")
    if prefix != URI_PREFIX or len(text) > _MAX_URI:
        raise InvalidPairingCode("not a ferry-pair:v1 URI")
    fields = parse_qs(query, strict_parsing=False)
    try:
        url, key, code = fields["url"][0], fields["key"][0], fields["code"][0]
    except (KeyError, IndexError):
        raise InvalidPairingCode("the pairing URI misses url, key or code") from None
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidPairingCode("the pairing URI's server URL is not http(s)")
    code = normalize_code(code)
    if len(code) != CODE_CHARS:
        raise InvalidPairingCode("the pairing URI's code has the wrong length")
    tls = fields.get("tls", [None])[0]
    return PairingUri(
        server_url=url.rstrip("/"),
        server_key=decode_key(key),
        code=code,
        tls_fingerprint=normalize_tls_fingerprint(tls) if tls else None,
    )


# ---------------------------------------------------------------- credentials


class DeviceCredentials(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """``device.json``: where the bridge's server is and how to recognise it."""

    server_url: str
    #: The server's static X25519 public key, unpadded base64url.
    server_key: str
    #: SHA-256 (hex) of the server's self-signed TLS certificate, when pinned.
    tls_fingerprint: str | None = None

    @property
    def server_public(self) -> bytes:
        return decode_key(self.server_key)


def encode_credentials(creds: DeviceCredentials) -> bytes:
    return msgspec.json.encode(creds)


def decode_credentials(data: bytes) -> DeviceCredentials:
    """Raises MalformedMessage when the data is not a credential file of this version."""
    if len(data) > _MAX:
        raise MalformedMessage("credential file too large")
    try:
        creds = msgspec.json.decode(data, type=DeviceCredentials)
        decode_key(creds.server_key)
    except (msgspec.DecodeError, msgspec.ValidationError, InvalidPairingCode):
        raise MalformedMessage("not a device credential file") from None
    return creds
