"""Reading ``content query`` output: literal samples, tricky values, and a property: a
value can make the output ambiguous, but never make the reader return a wrong row."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device_bridge.android.errors import AdbOutputError, AmbiguousOutput
from device_bridge.android.query import ints_of, parse_rows
from device_bridge.attachments import fit
from protocol.messages import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS, MAX_BODY, Attachment

SMS = ["_id", "date", "address", "body"]
INTS = {"_id", "date"}


def printed(rows: list[dict[str, object]]) -> str:
    """What Android's content command prints for ``rows`` (None as NULL)."""
    if not rows:
        return "No result found.\n"
    lines = []
    for i, row in enumerate(rows):
        values = ", ".join(f"{k}={'NULL' if v is None else v}" for k, v in row.items())
        lines.append(f"Row: {i} {values}\n")
    return "".join(lines)


def test_plain_rows_and_null() -> None:
    text = (
        "Row: 0 _id=12, date=1793530800000, address=+15550100002, body=Hi there\n"
        "Row: 1 _id=13, date=1793530860000, address=NULL, body=\n"
    )
    assert parse_rows(text, SMS, ints=INTS, expect_rows=2) == [
        {"_id": "12", "date": "1793530800000", "address": "+15550100002", "body": "Hi there"},
        {"_id": "13", "date": "1793530860000", "address": None, "body": ""},
    ]


def test_no_result() -> None:
    assert parse_rows("No result found.\n", SMS, ints=INTS) == []
    assert ints_of("No result found.\n") == []
    with pytest.raises(AmbiguousOutput):
        parse_rows("No result found.\n", SMS, ints=INTS, expect_rows=1)


def test_commas_equals_and_newlines_in_the_last_column() -> None:
    body = "a, b=c, address=x,\nline two\n\nRow: one, _id=5"
    text = printed([{"_id": 7, "date": 1, "address": "+1555", "body": body}])
    assert parse_rows(text, SMS, ints=INTS, expect_rows=1)[0]["body"] == body


def test_a_separator_inside_a_middle_text_column_is_ambiguous() -> None:
    text = printed([{"_id": 7, "date": 1, "address": "Bank, body=x", "body": "y"}])
    with pytest.raises(AmbiguousOutput):
        parse_rows(text, SMS, ints=INTS, expect_rows=1)


def test_a_forged_row_header_in_the_last_row_is_caught_by_the_row_count() -> None:
    forged = "hello\nRow: 2 _id=99, date=1, address=+1800BANK, body=Your code is 1234"
    text = printed(
        [
            {"_id": 7, "date": 1, "address": "+1555", "body": "first"},
            {"_id": 8, "date": 2, "address": "+1555", "body": forged},
        ]
    )
    assert len(parse_rows(text, SMS, ints=INTS)) == 3  # without the count: fooled
    with pytest.raises(AmbiguousOutput):
        parse_rows(text, SMS, ints=INTS, expect_rows=2)


def test_a_forged_header_in_an_earlier_row_breaks_the_numbering() -> None:
    text = printed(
        [
            {"_id": 7, "date": 1, "address": "+1555", "body": "x\nRow: 1 _id=9, date=1, "
             "address=+1, body=fake"},
            {"_id": 8, "date": 2, "address": "+1555", "body": "real"},
        ]
    )  # fmt: skip
    with pytest.raises(AmbiguousOutput):
        parse_rows(text, SMS, ints=INTS)


def test_integers_are_read_strictly() -> None:
    with pytest.raises(AdbOutputError):
        parse_rows("Row: 0 _id=7x, date=1, address=a, body=b\n", SMS, ints=INTS)
    with pytest.raises(AdbOutputError):
        parse_rows("usage: adb shell content [subcommand]\n", SMS, ints=INTS)
    with pytest.raises(AdbOutputError):
        parse_rows("Row: 0 _id=7, date=1, body=b\n", SMS, ints=INTS)  # address missing


_PIECES = ["a", "Z", " ", "=", ",", "\n", ":", "é", ", ", "Row: ", "_id=", ", body=",
           ", address=", "\nRow: 1 _id=", "\nRow: 2 _id=3, date=4", "NULL"]  # fmt: skip
_tricky = st.lists(st.sampled_from(_PIECES), max_size=8).map("".join)


@given(st.lists(st.tuples(st.integers(0, 10**6), _tricky, _tricky), min_size=1, max_size=4))
def test_never_a_wrong_reading(rows: list[tuple[int, str, str]]) -> None:
    table = [{"_id": i, "date": n, "address": a, "body": b} for i, (n, a, b) in enumerate(rows)]
    try:
        parsed = parse_rows(printed(table), SMS, ints=INTS, expect_rows=len(table))
    except AmbiguousOutput:
        return
    expected = [
        {k: (None if str(v) == "NULL" else str(v)) for k, v in row.items()} for row in table
    ]
    assert parsed == expected


@given(_tricky)
def test_one_text_column_after_the_id_is_never_ambiguous(body: str) -> None:
    text = printed([{"_id": 5, "body": body}])
    (row,) = parse_rows(text, ["_id", "body"], expect_rows=1)
    assert row["body"] == (None if body == "NULL" else body)


# ------------------------------------------------------------------- fitting


def test_fit_keeps_what_fits_and_marks_the_rest() -> None:
    big = Attachment(mime="image/jpeg", data=b"j" * (MAX_ATTACHMENT_BYTES - 10), name="a.jpg")
    second = Attachment(mime="video/mp4; codecs=avc1", data=b"v" * 100, name="../clip.mp4")
    small = Attachment(mime="not a type", data=b"x", name=None)
    fitted = fit("look", [big, second, small], too_large=[("huge.png", "image/png")])
    assert [a.name for a in fitted.attachments] == ["a.jpg", None]
    assert fitted.attachments[1].mime == "application/octet-stream"
    assert fitted.body == (
        "look\n[attachment too large: clip.mp4, 100 B]\n"
        "[attachment too large: huge.png, over 640 KiB]"
    )
    assert fitted.dropped == [("video/mp4", 100), ("image/png", MAX_ATTACHMENT_BYTES + 1)]


def test_fit_limits_the_count_and_the_body() -> None:
    parts = [Attachment(mime="image/png", data=b"p", name=f"{i}.png") for i in range(12)]
    fitted = fit("x" * (MAX_BODY + 5), parts)
    assert len(fitted.attachments) == MAX_ATTACHMENTS
    assert len(fitted.body) == MAX_BODY and fitted.body.endswith("[message cut: too long]")
    assert fit("", [], too_large=[(None, "image/gif")]).body == (
        "[attachment too large: image/gif, over 640 KiB]"
    )
