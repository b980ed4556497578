"""Pairing codes as the user sees them: the one-time part, the typed form, URI and QR code.

Storage of codes lives in :mod:`server.storage.pairing`; this module only makes and shows
them (the REST handler and ``ferry admin pairing-code`` both use it).
"""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from datetime import datetime

import segno

from protocol.pairing import ALPHABET, CODE_CHARS, PairingUri, pairing_uri, typed_code


def new_code() -> str:
    """A fresh one-time part: 8 base32 characters (40 bits) from ``secrets``."""
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_CHARS))


@dataclass(frozen=True)
class PairingOffer:
    code: str  # the typed form
    uri: str
    qr_svg: str
    expires_at: datetime

    def as_json(self) -> dict[str, str]:
        return {
            "code": self.code,
            "uri": self.uri,
            "qr_svg": self.qr_svg,
            "expires_at": self.expires_at.isoformat().replace("+00:00", "Z"),
        }


def make_offer(
    code: str, server_url: str, server_public: bytes, tls_pin: str | None, expires_at: datetime
) -> PairingOffer:
    uri = pairing_uri(PairingUri(server_url.rstrip("/"), server_public, code, tls_pin))
    return PairingOffer(
        code=typed_code(code, server_public), uri=uri, qr_svg=qr_svg(uri), expires_at=expires_at
    )


def qr_svg(text: str) -> str:
    """An SVG QR code (no XML declaration, ready to inline)."""
    out = io.BytesIO()
    segno.make(text, error="m").save(
        out, kind="svg", xmldecl=False, scale=4, border=4, svgclass="ferry-qr", lineclass=None
    )
    return out.getvalue().decode()


def qr_text(text: str) -> str:
    """A QR code drawn with block characters, for a terminal."""
    out = io.StringIO()
    segno.make(text, error="m").terminal(out=out, compact=True)
    return out.getvalue()
