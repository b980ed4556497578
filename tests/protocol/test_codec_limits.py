"""The codec's nesting and integer limits: deep input is refused before any parser
recurses, and integers must fit in 64 bits."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import MAX_DEPTH, MAX_INT, MIN_INT, Codec, check_depth, check_integers
from protocol.errors import MalformedMessage, NestingTooDeep, NumberOutOfRange
from protocol.messages import (
    Attachment,
    AttachmentView,
    BrowserToServer,
    Changes,
    DeviceToServer,
    InboundSms,
    MessageView,
    ServerToBrowser,
    ThreadView,
    Upload,
)

DEEP = 1000  # what the security battery sent: ~2 KB, past Python's recursion limit


def nested(depth: int, open_: str = "[", close: str = "]") -> bytes:
    return (open_ * depth + close * depth).encode()


def depth_of(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("codec", "frame"),
    [
        (Codec(DeviceToServer), b'{"t":"ping","x":' + nested(DEEP) + b"}"),
        (Codec(BrowserToServer), b'{"t":"ping","x":' + nested(DEEP) + b"}"),
        (Codec(DeviceToServer), nested(DEEP)),
        (Codec(BrowserToServer), b'{"t":"subscribe","since":' + b'{"a":' * DEEP + b"}" * DEEP),
    ],
)
def test_deep_frames_are_a_protocol_error_not_a_recursion_error(
    codec: Codec[object], frame: bytes
) -> None:
    with pytest.raises(NestingTooDeep) as exc:
        codec.decode(frame)
    assert isinstance(exc.value, MalformedMessage)
    assert exc.value.code == "nesting_too_deep"


def test_the_deepest_legitimate_messages_fit() -> None:
    view = MessageView(
        id=1,
        thread_id=1,
        peer="+1",
        direction="in",
        body="b",
        status="received",
        timestamp="t",
        seq=1,
        attachments=[AttachmentView(id=1, mime="image/png", size=1)],
    )
    thread = ThreadView(
        id=1, peer="+1", title="t", last_message=view, last_activity="t", unread=0, seq=1
    )
    changes = Codec.encode(Changes(messages=[view], threads=[thread], upto=1))
    assert depth_of(json.loads(changes)) == 6  # the deepest shape; MAX_DEPTH leaves room
    assert Codec(ServerToBrowser).decode(changes) == Changes(
        messages=[view], threads=[thread], upto=1
    )
    item = InboundSms(
        n=1, key="k", sender="+1", body="b", sent_at="t", attachments=[Attachment("a/b", b"x")]
    )
    upload = Codec.encode(Upload(items=[item]))
    assert depth_of(json.loads(upload)) == 5
    assert Codec(DeviceToServer).decode(upload) == Upload(items=[item])


def test_the_limit_is_exact() -> None:
    check_depth(nested(MAX_DEPTH))
    check_depth(nested(MAX_DEPTH, "{", "}"))
    with pytest.raises(NestingTooDeep):
        check_depth(nested(MAX_DEPTH + 1))
    mixed = b'{"a":[{"b":[' * 3 + b"]}]}" * 3  # 12 levels, objects and arrays alternating
    with pytest.raises(NestingTooDeep):
        check_depth(mixed)
    check_depth(mixed, max_depth=12)


@pytest.mark.parametrize(
    "text",
    [
        '["' + "[" * 50 + '"]',  # brackets inside a string do not count
        '["\\"' + "[" * 50 + '"]',  # nor after an escaped quote
        '{"k\\\\":"' + "{" * 50 + '"}',  # an escaped backslash ends before the quote
        '["\\u0022[[[[[[[[[[[[[[[[[["]',
        "[" + "[], " * 500 + "[]]",  # wide is fine, only deep is refused
    ],
)
def test_strings_and_width_do_not_count(text: str) -> None:
    assert depth_of(json.loads(text)) <= 2
    check_depth(text.encode())


def test_brackets_after_a_string_still_count() -> None:
    with pytest.raises(NestingTooDeep):
        check_depth(b'["\\\\",' + nested(MAX_DEPTH) + b"]")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ ab,:'),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=40,
    )
)
def test_agrees_with_the_real_depth_of_any_json(value: object) -> None:
    raw = json.dumps(value).encode()
    depth = depth_of(value)
    check_depth(raw, max_depth=depth)
    if depth:
        with pytest.raises(NestingTooDeep):
            check_depth(raw, max_depth=depth - 1)


def test_unterminated_strings_and_stray_escapes_scan_in_linear_time() -> None:
    # Each of these once meant a rescan from every quote: a megabyte of it must still be
    # one pass (this would take minutes if it were quadratic).
    check_depth(b'"' + b'\\"' * 500_000)
    check_depth(b'"a' * 500_000)
    with pytest.raises(NestingTooDeep):
        check_depth(b"[" * 500_000)


@pytest.mark.parametrize(
    "frame",
    [
        b'{"t":"subscribe","since":99999999999999999999}',
        b'{"t":"subscribe","since":9223372036854775808}',
        b'{"t":"subscribe","since":-9223372036854775809}',
        b'{"t":"ping","unknown":[1,123456789012345678901234567890]}',
    ],
)
def test_integers_beyond_64_bits_are_refused(frame: bytes) -> None:
    with pytest.raises(NumberOutOfRange) as exc:
        Codec(BrowserToServer).decode(frame)
    assert isinstance(exc.value, MalformedMessage)
    assert exc.value.code == "number_out_of_range"


def test_integers_at_the_bounds_and_digits_elsewhere_pass() -> None:
    codec = Codec(BrowserToServer)
    assert codec.decode(f'{{"t":"subscribe","since":{MAX_INT}}}').since == MAX_INT  # type: ignore[union-attr]
    assert codec.decode(f'{{"t":"subscribe","since":{MIN_INT}}}').since == MIN_INT  # type: ignore[union-attr]
    check_integers(b'{"body":"99999999999999999999999","n":1}')  # digits in a string
    check_integers(b'{"x":0.99999999999999999999999,"y":1e99999999999999999999}')  # not ints
