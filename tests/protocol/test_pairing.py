"""Pairing codes, URIs and the credential file (pure)."""

from __future__ import annotations

import pytest

from protocol.errors import MalformedMessage
from protocol.pairing import (
    DeviceCredentials,
    InvalidPairingCode,
    PairingUri,
    decode_credentials,
    encode_credentials,
    encode_key,
    fingerprint_matches,
    key_fingerprint,
    normalize_code,
    pairing_uri,
    parse_pairing_uri,
    split_typed_code,
    typed_code,
)

KEY = bytes(range(32))
OTHER = bytes(range(1, 33))


def test_typed_code_is_code_plus_keyed_fingerprint() -> None:
    text = typed_code("ABCDEFGH", KEY)
    assert len(text) == 24 and text.count("-") == 4 and text.startswith("ABCD-EFGH-")
    code, fp = split_typed_code(text.lower().replace("-", " "))
    assert code == "ABCDEFGH" and fingerprint_matches(code, fp, KEY)
    assert not fingerprint_matches(code, fp, OTHER)
    # Keyed by the one-time part: the same server key has a new fingerprint per code.
    assert key_fingerprint("ABCDEFGH", KEY) != key_fingerprint("ABCDEFGI", KEY)


def test_typed_code_tolerates_look_alikes_and_rejects_garbage() -> None:
    assert normalize_code("abcd-0ib8") == "ABCDOIBB"
    for bad in ["", "ABCD-EFGH", "ABCD!EFGH-FFFF-FFFF-FFFF", "A" * 21]:
        with pytest.raises(InvalidPairingCode):
            split_typed_code(bad)


def test_uri_round_trip_with_and_without_tls_pin() -> None:
    for pin in (None, "ab" * 32):
        uri = PairingUri("https://ferry.example:8443", KEY, "ABCDEFGH", pin)
        text = pairing_uri(uri)
        assert text.startswith("ferry-pair:v1?url=https%3A%2F%2Fferry.example%3A8443&key=")
        assert parse_pairing_uri(text) == uri
    assert encode_key(KEY) in pairing_uri(PairingUri("http://127.0.0.1:8080", KEY, "ABCDEFGH"))


@pytest.mark.parametrize(
    "text",
    [
        "ferry-pair:v2?url=https%3A%2F%2Fa&key=AAAA&code=ABCDEFGH",
        "ferry-pair:v1?key=" + encode_key(KEY) + "&code=ABCDEFGH",
        "ferry-pair:v1?url=ftp%3A%2F%2Fa&key=" + encode_key(KEY) + "&code=ABCDEFGH",
        "ferry-pair:v1?url=https%3A%2F%2Fa&key=AAAA&code=ABCDEFGH",
        "ferry-pair:v1?url=https%3A%2F%2Fa&key=" + encode_key(KEY) + "&code=ABC",
        "ferry-pair:v1?url=https%3A%2F%2Fa&key=" + encode_key(KEY) + "&code=ABCDEFGH&tls=zz",
        "https://ferry.example",
    ],
)
def test_bad_uris_raise(text: str) -> None:
    with pytest.raises(InvalidPairingCode):
        parse_pairing_uri(text)


def test_credentials_round_trip_and_reject_old_or_garbage_files() -> None:
    creds = DeviceCredentials("https://ferry.example", encode_key(KEY), "ab" * 32)
    assert decode_credentials(encode_credentials(creds)) == creds
    assert creds.server_public == KEY
    for bad in [
        b'{"server_url": 1}',
        b'{"server_url": "http://127.0.0.1:8080", "device_id": 4, "secret": "s"}',  # pre-pairing
        b'{"server_url": "http://x", "server_key": "AAAA"}',
        b"x" * 5000,
    ]:
        with pytest.raises(MalformedMessage):
            decode_credentials(bad)
