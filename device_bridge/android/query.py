"""Reading the output of Android's ``content query`` (pure).

``content query --uri U --projection a:b:c`` prints one line per row (Android's
``cmds/content`` ``QueryCommand``)::

    Row: 0 a=12, b=some text, c=NULL
    Row: 1 a=13, b=more, c=7

or ``No result found.`` when there is none. Values are printed raw: a NULL is the word
``NULL``, a BLOB the word ``BLOB``, text as it is — including ``, ``, ``=`` and newlines.
So the output is only unambiguous when we know the column names, in projection order, and
which columns hold integers. The reader:

* splits rows at ``\\nRow: <k> <first column>=`` headers numbered 0, 1, 2 … and, when the
  caller knows how many rows there are (from an ``_id``-only query, which cannot be
  ambiguous), insists on exactly that many: a body that contains a forged row header
  adds a header and is caught;
* inside a row, reads integer columns strictly (``-?\\d+`` or ``NULL``), and takes a text
  column up to the next column's ``, <name>=`` separator only when that separator occurs
  exactly once in the rest of the row; the last column runs to the end of the row.

Whatever admits two readings raises :class:`AmbiguousOutput`; the driver then asks for
that row one text column at a time (``_id`` + one column: unambiguous by construction).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from device_bridge.android.errors import AdbOutputError, AmbiguousOutput

NO_RESULT = "No result found."

Row = dict[str, str | None]

_INT = re.compile(r"-?\d+|NULL")


def parse_rows(
    text: str,
    columns: Sequence[str],
    *,
    ints: Collection[str] = ("_id",),
    expect_rows: int | None = None,
) -> list[Row]:
    """Rows of ``content query`` output, each a dict by column name (NULL becomes None).

    Args:
        text: The whole standard output.
        columns: The projection, in order (the first must be an integer column when
            ``expect_rows`` is None, so that row headers are recognisable).
        ints: Columns that hold integers (read strictly).
        expect_rows: How many rows there must be, when known.

    Raises:
        AmbiguousOutput: the text can be read in more than one way.
        AdbOutputError: the text is not ``content query`` output for these columns.
    """
    if text.strip() == NO_RESULT:
        if expect_rows:
            raise AmbiguousOutput(f"expected {expect_rows} rows, got none")
        return []
    if not text.startswith("Row: 0 ") or not text.endswith("\n"):
        raise AdbOutputError("content query output does not start with a row")
    header = re.compile(r"(?:^|\n)Row: (\d+) " + re.escape(columns[0]) + "=")
    starts = list(header.finditer(text[:-1]))
    if expect_rows == 1:
        starts = starts[:1]  # one row: everything is its text, forged headers included
    numbers = [int(m.group(1)) for m in starts]
    if numbers != list(range(len(numbers))):
        raise AmbiguousOutput("row headers are not numbered 0, 1, 2, …")
    if expect_rows is not None and len(numbers) != expect_rows:
        raise AmbiguousOutput(f"expected {expect_rows} rows, found {len(numbers)} headers")
    ends = [m.start() for m in starts[1:]] + [len(text) - 1]
    return [
        _parse_row(text[m.end() : end], columns, ints) for m, end in zip(starts, ends, strict=True)
    ]


def _parse_row(rest: str, columns: Sequence[str], ints: Collection[str]) -> Row:
    """``rest`` is the row after ``<first column>=``."""
    row: Row = {}
    for i, name in enumerate(columns):
        last = i == len(columns) - 1
        sep = "" if last else f", {columns[i + 1]}="
        if name in ints:
            m = _INT.match(rest)
            if m is None or not rest[m.end() :].startswith(sep) or (last and m.end() != len(rest)):
                raise AdbOutputError(f"column {name} is not an integer")
            value, rest = m.group(), rest[m.end() + len(sep) :]
        elif last:
            value, rest = rest, ""
        else:
            count = rest.count(sep)
            if count == 0:
                raise AdbOutputError(f"column {columns[i + 1]} is missing")
            if count > 1:
                raise AmbiguousOutput(f"column {name} may contain the next separator")
            value, rest = rest.split(sep, 1)
        row[name] = None if value == "NULL" else value
    return row


def ints_of(text: str, column: str = "_id") -> list[int]:
    """The values of a single integer column (an ``--projection _id`` query)."""
    return [int(r[column]) for r in parse_rows(text, [column], ints=[column]) if r[column]]
