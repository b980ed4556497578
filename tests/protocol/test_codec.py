"""Wire codec: typed round trips, size limits, named errors for malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import Codec, encode
from protocol.errors import MalformedMessage, MessageTooLarge, ProtocolError, UnsupportedVersion
from protocol.messages import (
    Ack,
    BrowserToServer,
    DeviceHello,
    DeviceToServer,
    InboundSms,
    Ping,
    SendStatus,
    ServerToDevice,
    Subscribe,
    Upload,
    negotiate_version,
)
from protocol.phone import InvalidNumber, to_e164

device_in: Codec[DeviceToServer] = Codec(DeviceToServer, max_size=4096)


def test_round_trip_of_each_device_message() -> None:
    msgs = [
        DeviceHello(versions=[1], pairing_code="ABCDEFGH", name="Pixel"),
        Upload(
            items=[
                InboundSms(
                    n=1, key="k", sender="+1", body="hi", sent_at="2026-01-01T00:00:00+00:00"
                )
            ]
        ),
        SendStatus(outbox_id=3, status="sent", references=[4, 5]),
        Ping(),
    ]
    for m in msgs:
        assert device_in.decode(encode(m)) == m


def test_tag_names_the_type_on_the_wire() -> None:
    assert encode(Ack(upto=7)) == b'{"t":"ack","upto":7}'


def test_server_messages_are_not_accepted_from_a_device() -> None:
    with pytest.raises(MalformedMessage):
        device_in.decode(b'{"t":"ack","upto":1}')


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"not json",
        b"[]",
        b'{"no_tag":1}',
        b'{"t":"unknown"}',
        b'{"t":"upload","items":"x"}',
        b'{"t":"upload","items":[{"n":"one"}]}',
        b'{"t":"hello","pairing_code":"ABCDEFGH"}',
        b"\xff\xfe",
    ],
)
def test_malformed_input_raises_named_error(raw: bytes) -> None:
    with pytest.raises(MalformedMessage) as info:
        device_in.decode(raw)
    assert info.value.code == "malformed_message"
    assert isinstance(info.value, ProtocolError)


def test_size_limit_is_checked_before_parsing() -> None:
    big = b'{"t":"ping","pad":"' + b"x" * 5000 + b'"}'
    with pytest.raises(MessageTooLarge) as info:
        device_in.decode(big)
    assert info.value.size == len(big) and info.value.limit == 4096


def test_unknown_fields_are_ignored_for_forward_compatibility() -> None:
    assert device_in.decode(b'{"t":"ping","future_field":1}') == Ping()


def test_version_negotiation() -> None:
    assert negotiate_version([1, 2, 3]) == 1
    with pytest.raises(UnsupportedVersion):
        negotiate_version([2, 3])


def test_browser_subscribe_defaults_to_zero() -> None:
    codec: Codec[BrowserToServer] = Codec(BrowserToServer)
    assert codec.decode('{"t":"subscribe"}') == Subscribe(since=0)


def test_server_to_device_union_decodes() -> None:
    codec: Codec[ServerToDevice] = Codec(ServerToDevice)
    assert codec.decode(b'{"t":"ack","upto":2}') == Ack(upto=2)


@given(st.text(max_size=300), st.integers(min_value=1, max_value=2**53))
def test_any_text_round_trips(body: str, n: int) -> None:
    msg = Upload(items=[InboundSms(n=n, key="k", sender="+1", body=body, sent_at="x")])
    assert Codec(DeviceToServer).decode(encode(msg)) == msg


@pytest.mark.parametrize("text", ["+1 555 010 0002", "+1 (555) 010-0002", "+15550100002"])
def test_phone_spellings_normalise_to_e164(text: str) -> None:
    assert to_e164(text) == "+15550100002"


@pytest.mark.parametrize("text", ["banana", "+1", "", "5550100002", "+" + "1" * 50])
def test_invalid_numbers_raise(text: str) -> None:
    with pytest.raises(InvalidNumber):
        to_e164(text)


@pytest.mark.parametrize("n", [0, -1, 2**53 + 1])
def test_an_upload_position_out_of_range_is_refused(n: int) -> None:
    raw = Codec.encode(Upload(items=[InboundSms(n=n, key="k", sender="+1", body="b", sent_at="x")]))
    with pytest.raises(MalformedMessage):
        Codec(DeviceToServer).decode(raw)
