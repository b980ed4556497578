"""MMS attachments on the wire: shape, limits, normalisation, fit in a device frame."""

from __future__ import annotations

import pytest

from protocol.codec import DEFAULT_MAX_SIZE, Codec, encode
from protocol.errors import (
    AttachmentTooLarge,
    InvalidAttachment,
    ProtocolError,
    TooManyAttachments,
)
from protocol.messages import (
    MAX_ATTACHMENT_BYTES,
    MAX_ATTACHMENT_NAME,
    MAX_ATTACHMENTS,
    Attachment,
    AttachmentView,
    DeviceToServer,
    InboundSms,
    MessageView,
    Upload,
    check_attachments,
    clean_attachment_name,
    normalize_mime,
)

codec: Codec[DeviceToServer] = Codec(DeviceToServer)


def _sms(**kw: object) -> InboundSms:
    return InboundSms(n=1, key="k", sender="+1", body="hi", sent_at="x", **kw)  # type: ignore[arg-type]


def test_text_only_item_carries_no_attachments_key() -> None:
    assert encode(_sms()) == b'{"n":1,"key":"k","sender":"+1","body":"hi","sent_at":"x"}'
    # What bridges that predate attachments send still decodes.
    old = b'{"t":"upload","items":[{"n":1,"key":"k","sender":"+1","body":"hi","sent_at":"x",'
    old += b'"incomplete":false,"line":null}]}'
    assert codec.decode(old) == Upload(items=[_sms()])


def test_attachment_bytes_travel_as_base64() -> None:
    item = _sms(attachments=[Attachment(mime="image/png", data=b"\x89PNG", name="a.png")])
    raw = encode(item)
    assert b'"attachments":[{"mime":"image/png","data":"iVBORw==","name":"a.png"}]' in raw
    assert codec.decode(encode(Upload(items=[item]))) == Upload(items=[item])


def test_message_view_always_lists_attachments() -> None:
    view = MessageView(
        id=1, thread_id=1, peer="+1", direction="in", body="", status="received",
        timestamp="t", seq=1, attachments=[AttachmentView(id=3, mime="image/png", size=4)],
    )  # fmt: skip
    assert b'"attachments":[{"id":3,"mime":"image/png","size":4,"name":null}]' in encode(view)


def test_largest_message_fits_the_device_frame() -> None:
    # Every field at its limit, with the worst JSON escaping for the text parts.
    share = MAX_ATTACHMENT_BYTES // MAX_ATTACHMENTS
    parts = [
        Attachment(mime="a/" + "b" * 98, data=b"\xff" * share, name="\x01" * MAX_ATTACHMENT_NAME)
        for _ in range(MAX_ATTACHMENTS)
    ]
    item = InboundSms(
        n=2**53, key="k" * 100, sender="+" * 32, body="\x01" * 10_000,
        sent_at="2026-11-01T11:59:00.000000+01:00", incomplete=True, line="+" * 32,
        attachments=parts,
    )  # fmt: skip
    assert len(encode(Upload(items=[item], repair=True))) < DEFAULT_MAX_SIZE


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("IMAGE/JPEG", "image/jpeg"),
        (" image/png ", "image/png"),
        ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text"),
        ("text/x-vcard", "text/x-vcard"),
    ],
)
def test_media_types_are_lower_cased(given: str, expected: str) -> None:
    assert normalize_mime(given) == expected


@pytest.mark.parametrize(
    "bad",
    ["", "image", "image/", "/png", "image/png; q=1", "text/plain;charset=utf-8", "a/b/c",
     "image/p ng", "imäge/png", "a/" + "b" * 99],
)  # fmt: skip
def test_bad_media_types_are_refused(bad: str) -> None:
    with pytest.raises(InvalidAttachment) as info:
        check_attachments([Attachment(mime=bad, data=b"")])
    assert info.value.code == "invalid_attachment" and isinstance(info.value, ProtocolError)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\doc.pdf", "doc.pdf"),
        ("dir/", None),
        ("..", None),
        ("a\x00b\nc\u202egpj.exe", "abcgpj.exe"),
        ("  spaced  ", "spaced"),
        ("x" * 300, "x" * MAX_ATTACHMENT_NAME),
        ("ünïcødé 写真.png", "ünïcødé 写真.png"),
    ],
)
def test_names_are_sanitised_not_refused(given: str | None, expected: str | None) -> None:
    assert clean_attachment_name(given) == expected


def test_limits() -> None:
    one = Attachment(mime="image/png", data=b"x")
    assert len(check_attachments([one] * MAX_ATTACHMENTS)) == MAX_ATTACHMENTS
    with pytest.raises(TooManyAttachments) as many:
        check_attachments([one] * (MAX_ATTACHMENTS + 1))
    assert many.value.code == "too_many_attachments"
    half = Attachment(mime="image/png", data=b"x" * (MAX_ATTACHMENT_BYTES // 2))
    assert check_attachments([half, half])
    with pytest.raises(AttachmentTooLarge) as big:
        check_attachments([half, half, one])
    assert big.value.code == "attachment_too_large"
    assert isinstance(big.value, InvalidAttachment)
