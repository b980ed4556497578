"""Public SMS PDU test vectors (python-messaging, python-gsmmodem), read in place.

The data lives outside the repository (``shared/vectors/sms/pdu-vectors.json``, see the
README next to it); every test here skips with a clear message when it is absent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from device_bridge.gsm import gsm7
from device_bridge.gsm.errors import EncodeError, PduError
from device_bridge.gsm.pdu import (
    Address,
    Concat,
    Deliver,
    StatusReport,
    Submit,
    decode_address,
    decode_pdu,
    decode_timestamp,
    decode_udh,
    encode_address,
    encode_submit,
    encode_timestamp,
    part_limits,
    relative_validity_minutes,
    relative_validity_octet,
    segment_text,
)

REPO = Path(__file__).resolve().parents[2]
VECTORS = REPO.parent / "shared" / "vectors" / "sms" / "pdu-vectors.json"
MISSING = f"SMS PDU vectors not found at {VECTORS} (they are kept outside the repository)"

TYPES = {"deliver": Deliver, "submit": Submit, "status-report": StatusReport}

# python-gsmmodem types every number without "+" as national (0xA1); our default is
# "unknown" (0x81, as python-messaging does), so this item asks for national explicitly.
EXTRA_OPTIONS = {"gm-enc-local-numbers": {"national": True}}

# Items we do not run, and why.
SKIPPED = {
    ("gsm7_charmap", "U+00A0"): "python-messaging quirk (lone ESC decodes to NBSP); TS 23.038 "
    "defines no character for it, we decode a trailing lone ESC as a space",
}


def _load() -> dict[str, Any] | None:
    if not VECTORS.is_file():
        return None
    return json.loads(VECTORS.read_text(encoding="utf-8"))


DATA = _load()


def params(
    section: str, sub: str | None = None, where: Callable[[dict[str, Any]], bool] | None = None
) -> list[Any]:
    """One pytest param per item (optionally only those *where* accepts), by id; a single
    skipped param when the file is absent."""
    if DATA is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=MISSING), id="vectors-missing")]
    items = DATA[section] if sub is None else DATA[section][sub]["items"]
    out = []
    for index, item in enumerate(items):
        if where is not None and not where(item):
            continue
        ident = item.get("id") or _extra_id(sub, index, item)
        reason = SKIPPED.get((sub, item.get("codepoint")))
        marks = [pytest.mark.skip(reason=reason)] if reason else []
        out.append(pytest.param(item, id=ident, marks=marks))
    return out


def _extra_id(sub: str | None, index: int, item: dict[str, Any]) -> str:
    label = item.get("codepoint") or item.get("direction") or ""
    return f"{sub}-{index}-{label}".rstrip("-")


def instant(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


def assert_same_time(got: datetime, iso: str) -> None:
    expected = instant(iso)
    assert got == expected  # aware datetimes compare as instants
    assert got.utcoffset() == expected.utcoffset()  # and we keep the SCTS offset


# ------------------------------------------------------------------ decode items


def is_lenient(item: dict[str, Any]) -> bool:
    return bool(item.get("lenient") or item.get("options", {}).get("lenient"))


def _decode(item: dict[str, Any]) -> Deliver | Submit | StatusReport:
    return decode_pdu(item["pdu"], has_smsc=item["has_smsc"], lenient=is_lenient(item))


@pytest.mark.parametrize("item", params("decode"))
def test_decode_vector(item: dict[str, Any]) -> None:
    expect = item["expect"]
    if expect.get("error"):
        with pytest.raises(PduError) as info:
            _decode(item)
        assert info.value.pdu == item["pdu"]
        return
    message = _decode(item)
    assert isinstance(message, TYPES[item["type"]])
    _check_common(message, expect)
    if isinstance(message, StatusReport):
        _check_status_report(message, expect.get("status_report", {}))
    if isinstance(message, Submit):
        _check_validity(message, expect)


def _check_common(message: Deliver | Submit | StatusReport, expect: dict[str, Any]) -> None:
    simple = {"smsc": "smsc", "sender": "sender", "recipient": "recipient", "text": "text",
              "encoding": "encoding", "pid": "pid", "sender_type": "sender_kind"}  # fmt: skip
    for key, attribute in simple.items():
        if key in expect:
            assert getattr(message, attribute) == expect[key], key
    if "timestamp" in expect:
        assert_same_time(message.timestamp, expect["timestamp"])
    if "concat" in expect:
        assert message.concat == Concat(**expect["concat"])


def _check_status_report(report: StatusReport, expect: dict[str, Any]) -> None:
    if "reference" in expect:
        assert report.message_reference == expect["reference"]
    if "status" in expect:
        assert report.status == expect["status"]
    if "discharge_time" in expect:
        assert_same_time(report.discharge_time, expect["discharge_time"])


def _check_validity(message: Submit, expect: dict[str, Any]) -> None:
    if "validity_relative_minutes" in expect:
        assert message.validity == expect["validity_relative_minutes"]
    if "validity_absolute" in expect:
        assert isinstance(message.validity, datetime)
        assert_same_time(message.validity, expect["validity_absolute"])


@pytest.mark.parametrize("item", params("decode", where=is_lenient))
def test_lenient_vectors_are_rejected_by_the_strict_default(item: dict[str, Any]) -> None:
    with pytest.raises(PduError):
        decode_pdu(item["pdu"], has_smsc=item["has_smsc"])


# ------------------------------------------------------------------ encode items


def _encode(item: dict[str, Any]) -> list[str]:
    options = dict(item["input"]["options"])
    if "validity_absolute" in options:
        options["validity_absolute"] = instant(options["validity_absolute"])
    options.update(EXTRA_OPTIONS.get(item["id"], {}))
    pdus = encode_submit(item["input"]["number"], item["input"]["text"], **options)
    if "expect_tpdu_lengths" in item:
        assert [p.tpdu_length for p in pdus] == item["expect_tpdu_lengths"]
    for pdu in pdus:  # the TPDU length is what follows the SMSC field
        assert pdu.tpdu_length == len(pdu.hex) // 2 - 1 - int(pdu.hex[:2], 16)
    return [p.hex for p in pdus]


@pytest.mark.parametrize("item", params("encode"))
def test_encode_vector(item: dict[str, Any]) -> None:
    if item.get("expect_error"):
        with pytest.raises(EncodeError):
            _encode(item)
        return
    assert _encode(item) == item["expect_pdus"]


@pytest.mark.parametrize("item", params("encode", where=lambda i: "expect_pdus" in i))
def test_encode_vector_decodes_back_to_input(item: dict[str, Any]) -> None:
    messages = [decode_pdu(p) for p in item["expect_pdus"]]
    assert all(isinstance(m, Submit) for m in messages)
    assert "".join(m.text for m in messages) == item["input"]["text"]
    number = item["input"]["number"]
    assert {m.recipient for m in messages} == {number}
    if len(messages) > 1:
        assert [m.concat.seq for m in messages] == list(range(1, len(messages) + 1))


# ------------------------------------------------------------------ segments items


@pytest.mark.parametrize("item", params("segments"))
def test_segments_vector(item: dict[str, Any]) -> None:
    expect = item["expect"]
    if item.get("mode") == "chunk-at-multipart-size":
        # python-gsmmodem's helper always cuts at the concatenated-part size.
        encoding = item["options"]["encoding"]
        cost = gsm7.char_septets if encoding == "gsm7" else gsm7.ucs2_units
        chunks = gsm7.split(item["text"], cost, part_limits(encoding)[1])
        assert len(chunks) == expect["parts"]
        assert "".join(chunks) == item["text"]
        return
    encoding, parts = segment_text(item["text"], **item.get("options", {}))
    assert (encoding, len(parts)) == (expect["encoding"], expect["parts"])
    assert "".join(parts) == item["text"]
    assert len(encode_submit("+3530000000", item["text"])) == expect["parts"]


# ------------------------------------------------------------------ extras


@pytest.mark.parametrize("item", params("extras", "gsm7_codec"))
def test_gsm7_codec_vector(item: dict[str, Any]) -> None:
    septets = bytes.fromhex(item["septets_hex"])
    packed = bytes.fromhex(item["packed_hex"])
    assert gsm7.to_septets(item["text"]) == septets
    assert gsm7.pack(septets) == packed
    assert gsm7.unpack(packed, len(septets)) == septets
    assert gsm7.from_septets(septets) == item["text"]


def test_gsm7_codec_error_vectors() -> None:
    if DATA is None:
        pytest.skip(MISSING)
    for item in DATA["extras"]["gsm7_codec"]["errors"]:
        options = item.get("options", {})
        if item["expect"].get("error"):
            with pytest.raises(EncodeError):
                gsm7.to_septets(item["text"], **options)
        else:
            septets = gsm7.to_septets(item["text"], **options)
            assert septets.hex().upper() == item["expect"]["septets_hex"]


@pytest.mark.parametrize("item", params("extras", "ucs2_codec"))
def test_ucs2_codec_vector(item: dict[str, Any]) -> None:
    [pdu] = encode_submit("+1234", item["text"])
    assert pdu.hex.endswith(f"{len(item['hex']) // 2:02X}" + item["hex"])
    assert decode_pdu(pdu.hex).text == item["text"]


@pytest.mark.parametrize("item", params("extras", "semi_octets"))
def test_semi_octet_vector(item: dict[str, Any]) -> None:
    field = encode_address(Address(item["digits"], "unknown"))
    assert field[2:].hex().upper() == item["hex"]
    assert decode_address(field) == (Address(item["digits"], "unknown"), len(field))


def _address_kind(item: dict[str, Any]) -> str:
    toa = int(item["field_hex"][2:4], 16)
    return {0x91: "international", 0xA1: "national", 0x81: "unknown"}.get(toa, "alphanumeric")


@pytest.mark.parametrize("item", params("extras", "address_fields"))
def test_address_field_vector(item: dict[str, Any]) -> None:
    address = Address(item["address"], _address_kind(item))
    smsc = item["is_smsc"]
    assert encode_address(address, smsc=smsc).hex().upper() == item["field_hex"]
    raw = bytes.fromhex(item["decode_input_hex"])
    assert decode_address(raw, smsc=smsc) == (address, item["bytes_read"])


@pytest.mark.parametrize("item", params("extras", "relative_validity"))
def test_relative_validity_vector(item: dict[str, Any]) -> None:
    if item.get("expect", {}).get("error"):
        if "tp_vp" in item:
            with pytest.raises(ValueError):
                relative_validity_minutes(item["tp_vp"])
        else:
            with pytest.raises(EncodeError):
                relative_validity_octet(item["minutes"])
        return
    assert relative_validity_octet(item["minutes"]) == item["tp_vp"]
    if item.get("direction") != "encode":
        assert relative_validity_minutes(item["tp_vp"]) == item["minutes"]


@pytest.mark.parametrize("item", params("extras", "timestamps"))
def test_timestamp_vector(item: dict[str, Any]) -> None:
    if item.get("expect", {}).get("error"):
        with pytest.raises(EncodeError):
            encode_timestamp(instant(item["naive"]))
        return
    assert encode_timestamp(instant(item["iso"])).hex().upper() == item["hex"]
    if item.get("direction") != "encode":
        assert_same_time(decode_timestamp(bytes.fromhex(item["hex"])), item["iso"])


@pytest.mark.parametrize("item", params("extras", "udh"))
def test_udh_vector(item: dict[str, Any]) -> None:
    header = decode_udh(bytes.fromhex(item["udh_hex"]))
    expect = item["expect"]
    if "concat" in expect:
        ref_bits = 16 if item["udh_hex"].startswith("08") else 8
        assert header.concat == Concat(**expect["concat"], ref_bits=ref_bits)
    if "port" in expect:
        assert header.ports == (expect["port"]["dest"], expect["port"]["orig"])


@pytest.mark.parametrize("item", params("extras", "gsm7_charmap"))
def test_gsm7_charmap_vector(item: dict[str, Any]) -> None:
    code = bytes.fromhex(item["gsm7_hex"])
    if item.get("direction") == "encode-only":
        assert gsm7.to_septets(item["char"], transliterate=True) == code
        assert not gsm7.is_gsm7(item["char"])  # lossy, so never chosen by default
        return
    assert gsm7.to_septets(item["char"]) == code
    assert gsm7.from_septets(code) == item["char"]


def test_every_other_bmp_character_is_not_gsm7() -> None:
    if DATA is None:
        pytest.skip(MISSING)
    mapped = {i["char"] for i in DATA["extras"]["gsm7_charmap"]["items"]
              if i.get("direction") is None}  # fmt: skip
    others = (chr(c) for c in range(0x10000) if not 0xD800 <= c <= 0xDFFF)
    assert [ch for ch in others if gsm7.is_gsm7(ch)] == sorted(mapped, key=ord)
