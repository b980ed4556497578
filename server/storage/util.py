"""Small helpers shared by the store modules."""

from __future__ import annotations

import operator
import sqlite3
from collections import namedtuple
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Boolean, LargeBinary, Table, bindparam, insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.expression import Executable


def new_id(result: Any) -> int:
    """The primary key of the row an INSERT just created."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer key
        raise RuntimeError("insert returned no primary key")
    return int(key[0])


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) as one executemany; see
    :func:`execute_many`."""
    statement = _inserts.get(table)
    if statement is None:
        statement = _inserts[table] = insert(table)
    execute_many(conn, statement, columns, rows, insert_columns=True)


_inserts: dict[Table, Executable] = {}


def execute_many(
    conn: Connection,
    statement: Executable,
    names: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    insert_columns: bool = False,
) -> None:
    """Run ``statement`` once per row, as one executemany through the driver.

    ``rows`` are tuples of the values of the bind parameters ``names`` (for an INSERT
    with ``insert_columns``: of those columns). Same SQL and the same type conversions as
    ``conn.execute(statement, dicts)``, but the conversions are looked up once per
    statement instead of through SQLAlchemy's per-row parameter machinery, which cost
    more than SQLite's own work on large batches.
    """
    names = tuple(names)
    plan = _plan(conn.dialect, statement, names, insert_columns)
    if plan is None:  # a named paramstyle: the generic path
        conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
        return
    sql, slots = plan
    width = len(names)
    constants = tuple(value for index, value, _ in slots if index is None)
    order, k = [], 0
    for index, _, _ in slots:
        if index is None:
            order.append(width + k)  # constants follow the row's own values
            k += 1
        else:
            order.append(index)
    pick = operator.itemgetter(*order)
    converting = [(k, proc) for k, (_, _, proc) in enumerate(slots) if proc is not None]
    # The same object in a slot (a batch's common timestamp) is converted once.
    memo: dict[int, tuple[Any, Any]] = {}
    in_order = order == list(range(width))
    params: list[list[Any]] = []
    for row in rows:
        if in_order:
            values = list(row)
        elif len(order) > 1:
            values = list(pick((*row, *constants)))
        else:
            values = [pick((*row, *constants))]
        for k, proc in converting:
            value = values[k]
            seen = memo.get(k)
            if seen is None or seen[0] is not value:
                seen = memo[k] = (value, proc(value))
            values[k] = seen[1]
        params.append(values)  # sqlite3 takes lists; other drivers get tuples
    if params:
        _driver_execute(conn, sql, params, many=True)


def execute_raw(
    conn: Connection, statement: Executable, names: Sequence[str], values: Sequence[Any]
) -> Any:
    """Run ``statement`` once with the bind parameters ``names`` set to ``values``, through
    the driver (see :func:`execute_many`). Result rows are the driver's own values: no
    type conversion (a boolean is 0/1 on SQLite, a time is text)."""
    names = tuple(names)
    plan = _plan(conn.dialect, statement, names, False)
    if plan is None:  # a named paramstyle: the generic path
        return conn.execute(statement, dict(zip(names, values, strict=True)))
    sql, slots = plan
    params = tuple(
        (values[index] if index is not None else value)
        if proc is None
        else proc(values[index] if index is not None else value)
        for index, value, proc in slots
    )
    return _driver_execute(conn, sql, params)


#: Longest IN list of one statement; longer lists take several. Compiling a statement
#: with a thousand binds cost more than the lookups it served.
MAX_IN = 128


def select_in(
    conn: Connection,
    cache: dict[int, Any],
    query: Any,
    column: Any,
    values: Sequence[Any],
    *,
    owner: tuple[Any, Any] | None = None,
) -> list[Any]:
    """Rows of ``query WHERE [owner column = owner value AND] column IN values``, through
    the driver (raw rows, as :func:`execute_raw`).

    An "expanding" IN list is rendered anew on every execution, which cost more than the
    lookup itself. Here the list is padded (by repeating a value) to one of a few sizes
    (8, 16, ... ``MAX_IN``), whose statements and bind names are built once and kept in
    ``cache``.
    """
    rows: list[Any] = []
    for start in range(0, len(values), MAX_IN):
        chunk = list(values[start : start + MAX_IN])
        size = 8
        while size < len(chunk):
            size *= 2
        built = cache.get(size)
        if built is None:
            names = [f"k{n}" for n in range(size)]
            # Typed as the column: its conversion applies (an IN list does not pass it on).
            where = [column.in_([bindparam(name, type_=column.type) for name in names])]
            if owner is not None:
                where.insert(0, owner[0] == bindparam("owner"))
                names.insert(0, "owner")
            built = cache[size] = (query.where(*where), tuple(names))
        statement, names = built
        params = chunk + [chunk[0]] * (size - len(chunk))
        if owner is not None:
            params.insert(0, owner[1])
        rows += execute_raw(conn, statement, names, params).fetchall()
    return rows


def _driver_execute(conn: Connection, sql: str, params: Any, *, many: bool = False) -> Any:
    """Run ``sql`` on the connection's driver. On SQLite, straight on the sqlite3
    connection: SQLAlchemy's execution context and result cost about 50 µs a statement,
    several times SQLite's own work for the small statements of an ingest. Driver errors
    are raised as SQLAlchemy's, as ``exec_driver_sql`` would."""
    if conn.dialect.driver != "pysqlite":
        if many:
            return conn.exec_driver_sql(sql, [tuple(p) for p in params])
        return conn.exec_driver_sql(sql, params)
    raw: Any = conn.connection.driver_connection
    try:
        cursor = raw.executemany(sql, params) if many else raw.execute(sql, params)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(sql, params, exc, sqlite3.Error) from exc
    return RawResult(cursor)


class RawResult:
    """The rows of a statement run by :func:`execute_raw` on sqlite3: the part of
    SQLAlchemy's result these helpers' callers use (rows have attributes by column)."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def fetchall(self) -> list[Any]:
        rows = self._cursor.fetchall()
        if not rows:
            return rows
        shape = _row_type(tuple(d[0] for d in self._cursor.description))
        return [shape._make(r) for r in rows]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())

    def scalar_one(self) -> Any:
        rows = self._cursor.fetchmany(2)
        if len(rows) != 1 or len(rows[0]) != 1:
            raise ValueError(f"expected one value, got {len(rows)} row(s)")
        return rows[0][0]


_row_types: dict[tuple[str, ...], Any] = {}


def _row_type(names: tuple[str, ...]) -> Any:
    shape = _row_types.get(names)
    if shape is None:
        shape = _row_types[names] = namedtuple("Row", names, rename=True)  # type: ignore[misc]
    return shape


_UNSET = object()
#: Per positional parameter: the row index it comes from (None: a constant of the
#: statement, given as the value), and its converter.
_Slot = tuple[int | None, Any, Any]
_plans: dict[tuple[Any, ...], tuple[str, list[_Slot]] | None] = {}


def _plan(
    dialect: Dialect, statement: Executable, names: tuple[str, ...], insert_columns: bool
) -> tuple[str, list[_Slot]] | None:
    key = (dialect.name, dialect.driver, dialect.paramstyle, id(statement), names, insert_columns)
    if key not in _plans:
        compiled: Any = statement.compile(
            dialect=dialect,
            column_keys=list(names) if insert_columns else None,
            # An INSERT run as executemany: no RETURNING of keys nobody reads (PostgreSQL).
            for_executemany=insert_columns,
        )
        if (
            not compiled.positional
            or compiled.positiontup is None
            # A column filled by a Python-side default: only the generic path does that.
            or (insert_columns and not set(compiled.positiontup) <= set(names))
        ):
            _plans[key] = None
        else:
            slots: list[_Slot] = []
            for name in compiled.positiontup:
                bind = compiled.binds[name]
                index = names.index(name) if name in names else None
                value = None if index is not None else bind.effective_value
                slots.append((index, value, _processor(dialect, bind.type)))
            _plans[key] = (compiled.string, slots)
            # Keyed by identity: keep the statement alive as long as its plan.
            _statements.append(statement)
    return _plans[key]


_statements: list[Executable] = []


def _processor(dialect: Dialect, type_: Any) -> Any:
    # sqlite3 takes bytes as they are (SQLAlchemy's LargeBinary converter only wraps
    # them) and stores a bool as the integer 0 or 1, as the Boolean converter would.
    if dialect.name == "sqlite" and isinstance(type_, LargeBinary | Boolean):
        return None
    return type_.dialect_impl(dialect).bind_processor(dialect)
