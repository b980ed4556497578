"""The pure codecs of takeout: surrogate-pair repair over any chunking, the SMS Backup &
Restore reader and writer, vCard reading (2.1, 3.0, 4.0) and writing."""

from __future__ import annotations

import base64
import io
import os
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.privacy.takeout import export, sealedfile, smsbackup, vcard
from server.privacy.takeout.errors import NotSmsBackup, NotVCard
from server.privacy.takeout.surrogates import SurrogateRepair, repair
from server.storage.takeout import ExportMessage

WHEN = datetime(2026, 10, 1, 9, 30, 15, 250000, tzinfo=UTC)


def test_surrogate_pairs_become_the_character_and_lone_ones_replacement() -> None:
    assert repair(b"a &#55357;&#56832; b") == b"a &#128512; b"
    assert repair(b"&#xD83D;&#xDE00;") == b"&#128512;"
    assert repair(b"&#55357; x &#56832;") == b"&#65533; x &#65533;"
    assert repair(b"&#55357;&#55357;&#56832;") == b"&#65533;&#128512;"
    assert repair(b"bell &#7; tab &#9; &amp; &#233;") == b"bell &#65533; tab &#9; &amp; &#233;"
    assert repair(b"no references at all") == b"no references at all"


@settings(max_examples=60, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(
            [b"&#55357;", b"&#56832;", b"&#xD83C;", b"&#xDF89;", b"&#233;", b"&amp;", b"ab", b"&"]
        ),
        max_size=30,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=8),
)
def test_chunked_repair_equals_whole_repair(pieces: list[bytes], cuts: list[int]) -> None:
    data = b"".join(pieces)
    stream = SurrogateRepair()
    out = b""
    at = 0
    for cut in sorted({min(c, len(data)) for c in cuts}):
        out += stream.feed(data[at:cut])
        at = cut
    out += stream.feed(data[at:]) + stream.close()
    assert out == repair(data)


def _read(data: bytes, chunk: int = 7) -> list[smsbackup.BackupMessage]:
    reader = smsbackup.BackupReader()
    found = []
    for start in range(0, len(data), chunk):
        found += reader.feed(data[start : start + chunk])
    return found + reader.close()


def test_writer_output_reads_back_exactly_in_small_chunks() -> None:
    body = 'a & b < c > "d"\nnew line\ttab 😀 \x01'
    doc = (
        smsbackup.header(2, "set", WHEN)
        + smsbackup.sms_element(
            address="+15550100002",
            when=WHEN,
            box=smsbackup.RECEIVED,
            body=body,
            read=False,
            status=-1,
            contact_name="Zoë",
        )
        + smsbackup.mms_element(
            address="+15550100002",
            own_number="+15550100001",
            when=WHEN,
            box=smsbackup.SENT,
            body="see this",
            read=True,
            contact_name=None,
            parts=[("image/png", "a.png", b"\x89PNG bytes"), ("text/plain", "n.txt", b"file")],
        )
        + smsbackup.FOOTER
    ).encode()
    sms, mms = _read(doc)
    ms = 1790847015250  # WHEN in Java milliseconds
    assert (sms.kind, sms.address, sms.date, sms.date_sent, sms.box, sms.read) == (
        "sms",
        "+15550100002",
        ms,
        ms,
        1,
        False,
    )
    assert sms.body == body.replace("\x01", "\ufffd") and sms.contact_name == "Zoë"
    assert (mms.kind, mms.box, mms.date, mms.body) == ("mms", 2, ms, "see this")
    assert [(p.mime, p.name, p.data) for p in mms.parts] == [
        ("image/png", "a.png", b"\x89PNG bytes"),
        ("text/plain", "n.txt", b"file"),
    ]
    assert mms.addrs == [("+15550100001", 137), ("+15550100002", 151)]


def test_reads_an_mms_as_the_app_writes_it() -> None:
    png = base64.b64encode(b"\x89PNG pixels").decode()
    doc = f"""<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>
<!--File Created By SMS Backup & Restore v10.20.002 on 01/10/2026 09:30:15-->
<smses count="1" backup_set="8a2b" backup_date="1759311015250" type="full">
  <mms date="1759311015000" rr="null" sub="null" ct_t="application/vnd.wap.multipart.related"
   read_status="null" seen="1" msg_box="1" address="+15550100002" sub_cs="null" resp_st="null"
   retr_st="null" d_tm="null" text_only="0" exp="null" locked="0" m_id="m1" st="null"
   retr_txt_cs="null" retr_txt="null" creator="com.google.android.apps.messaging"
   date_sent="1759311014" read="0" m_size="12345" rpt_a="null" ct_cls="null" pri="null"
   sub_id="1" tr_id="t1" resp_txt="null" ct_l="null" m_cls="personal" d_rpt="129" v="18"
   _id="42" m_type="132" readable_date="1 Oct 2026 09:30:15" contact_name="Alice">
    <parts>
      <part seq="-1" ct="application/smil" name="null" chset="null" cd="null" fn="null"
       cid="&lt;smil&gt;" cl="smil.xml" ctt_s="null" ctt_t="null"
       text="&lt;smil&gt;&lt;/smil&gt;" />
      <part seq="0" ct="image/png" name="null" chset="null" cd="null" fn="null"
       cid="&lt;0&gt;" cl="IMG_1.png" ctt_s="null" ctt_t="null" text="null" data="{png}" />
      <part seq="0" ct="text/plain" name="null" chset="106" cd="null" fn="null"
       cid="&lt;1&gt;" cl="text_1.txt" ctt_s="null" ctt_t="null" text="Party &#55356;&#57225;" />
    </parts>
    <addrs>
      <addr address="+15550100002" type="137" charset="106" />
      <addr address="+15550100001" type="151" charset="106" />
    </addrs>
  </mms>
</smses>
""".encode()
    (mms,) = _read(doc, chunk=50)
    assert mms.body == "Party 🎉"
    assert [(p.mime, p.name, p.data) for p in mms.parts] == [
        ("image/png", "IMG_1.png", b"\x89PNG pixels")
    ]
    # Android's own MMS times are in seconds: taken as milliseconds.
    assert (mms.date, mms.date_sent, mms.read, mms.contact_name) == (
        1759311015000,
        1759311014000,
        False,
        "Alice",
    )


@pytest.mark.parametrize(
    ("doc", "words"),
    [
        (b'<!DOCTYPE smses [<!ENTITY x "y">]><smses/>', "DTD"),
        (b"<smses><sms body='unclosed'></smses>", "not well-formed"),
        (b"<calls><call/></calls>", "<smses>"),
        (b"", "not well-formed"),
        (b"<smses><sms><a><b><c/></b></a></sms></smses>", "deeper"),
    ],
)
def test_what_is_not_a_backup_is_refused_in_words(doc: bytes, words: str) -> None:
    with pytest.raises(NotSmsBackup, match=words):
        _read(doc)


def test_an_element_larger_than_the_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(smsbackup, "MAX_ELEMENT", 1000)
    reader = smsbackup.BackupReader()
    reader.feed(b"<smses><sms body='")
    with pytest.raises(NotSmsBackup, match="too large"):
        for _ in range(10):
            reader.feed(b"x" * 200)


def test_vcards_of_every_version_are_read() -> None:
    text = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=\r\n=BCrgen;;;\r\n"
        "TEL;CELL:+49 151 2345678\r\nTEL;HOME:030 1234567\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Smith\\, Anna\r\n"
        "PHOTO;ENCODING=b;TYPE=JPEG:" + "A" * 100 + "\r\n " + "B" * 100 + "\r\n"
        "item1.TEL;type=pref:+1 555 010\r\n 0002\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\nVERSION:4.0\nFN:Zoë\nTEL;VALUE=uri;TYPE=cell:tel:+44-7700-900123\nEND:VCARD\n"
    )
    cards = list(vcard.read_cards(text.splitlines(keepends=True)))
    assert [(c.name, c.numbers) for c in cards] == [
        ("Jürgen Müller", ["+49 151 2345678", "030 1234567"]),
        ("Smith, Anna", ["+1 555 0100002"]),
        ("Zoë", ["+44-7700-900123"]),
    ]


def test_written_vcards_read_back() -> None:
    text = vcard.write_card("Doe; Jane, \\ Jr.", ["+15550100002"])
    assert text.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    (card,) = vcard.read_cards(text.splitlines(keepends=True))
    assert (card.name, card.numbers) == ("Doe; Jane, \\ Jr.", ["+15550100002"])


@pytest.mark.parametrize(
    "text", ["hello\n", "", "BEGIN:VCARD\nFN:x\n", "FN:x\nBEGIN:VCARD\nEND:VCARD\n"]
)
def test_what_is_not_a_vcard_is_refused(text: str) -> None:
    with pytest.raises(NotVCard):
        list(vcard.read_cards(text.splitlines(keepends=True)))


def _sealed(data: bytes, key: bytes, context: bytes = b"f") -> bytes:
    out = io.BytesIO()
    out.close = lambda: None  # type: ignore[method-assign]
    with sealedfile.SealedWriter(out, key, context) as w:
        for start in range(0, len(data), 7):
            w.write(data[start : start + 7])
    return out.getvalue()


def _opened(blob: bytes, key: bytes, context: bytes = b"f") -> bytes:
    return io.BufferedReader(sealedfile.SealedReader(io.BytesIO(blob), key, context)).read()


def test_sealed_files_read_back_and_refuse_every_tampering(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sealedfile, "CHUNK", 16)
    key = os.urandom(32)
    data = b"Hi there, this is a message body " * 3
    blob = _sealed(data, key)
    assert data[:9] not in blob
    assert _opened(blob, key) == data
    assert _opened(_sealed(b"", key), key) == b""
    record = 4 + 12 + 16 + 16  # length, nonce, ciphertext of a full chunk, tag
    tampered = [
        blob[:-1],  # cut short
        blob[:record],  # the last record dropped
        blob[record : 2 * record] + blob[:record] + blob[2 * record :],  # reordered
        blob[:10] + bytes([blob[10] ^ 1]) + blob[11:],  # a flipped bit
        blob + b"x",  # bytes after the end
    ]
    for bad in tampered:
        with pytest.raises(sealedfile.SealedFileError):
            _opened(bad, key)
    with pytest.raises(sealedfile.SealedFileError):
        _opened(blob, key, b"another file")
    with pytest.raises(sealedfile.SealedFileError):
        _opened(blob, os.urandom(32))


def test_export_pages_open_attachments_a_few_mib_at_a_time() -> None:
    assert export.ATTACHMENT_BYTES == 4 * 1024 * 1024

    def message(n: int, *sizes: int) -> ExportMessage:
        return ExportMessage(
            n, 1, 1, "+1", "in", "", "received", WHEN, False, None, None,
            [("image/png", s) for s in sizes],
        )  # fmt: skip

    mib = 1024 * 1024
    page = [message(1), message(2, 3 * mib), message(3, 3 * mib, mib), message(4, 2 * mib)]
    page += [message(5), message(6, 9 * mib), message(7)]
    runs = export._by_attachment_bytes(page)
    assert [[m.id for m in run] for run in runs] == [[1, 2], [3], [4, 5], [6], [7]]
