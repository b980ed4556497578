"""Small helpers shared by the store modules."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Dialect


def new_id(result: Any) -> int:
    """The primary key of the row an INSERT just created."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer key
        raise RuntimeError("insert returned no primary key")
    return int(key[0])


def insert_many(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """INSERT ``rows`` (tuples in ``columns`` order) as one executemany, through the driver.

    Same SQL and the same type conversions as ``conn.execute(insert(table), dicts)``, but
    the conversions are looked up once per column instead of through SQLAlchemy's
    per-row parameter machinery, which cost more than SQLite's own work on large batches.
    """
    plan = _insert_plan(conn.dialect, table, tuple(columns))
    if plan is None:  # a named paramstyle: the generic path
        conn.execute(insert(table), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    sql, order, procs = plan
    # The same object in a column (a batch's common timestamp) is converted once.
    memo: list[tuple[Any, Any]] = [(_UNSET, None)] * len(procs)

    def convert(k: int, value: Any) -> Any:
        proc = procs[k]
        if proc is None:
            return value
        seen, done = memo[k]
        if value is not seen:
            done = proc(value)
            memo[k] = (value, done)
        return done

    params = [tuple([convert(k, row[i]) for k, i in enumerate(order)]) for row in rows]
    if params:
        conn.exec_driver_sql(sql, params)


_UNSET = object()
_Plan = tuple[str, list[int], list[Any]]
_plans: dict[tuple[str, str, str, str, tuple[str, ...]], _Plan | None] = {}


def _insert_plan(dialect: Dialect, table: Table, columns: tuple[str, ...]) -> _Plan | None:
    key = (dialect.name, dialect.driver, dialect.paramstyle, table.name, columns)
    if key not in _plans:
        compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
        if not compiled.positional or compiled.positiontup is None:
            _plans[key] = None
        else:
            order = [columns.index(name) for name in compiled.positiontup]
            procs = [
                table.c[columns[i]].type.dialect_impl(dialect).bind_processor(dialect)
                for i in order
            ]
            _plans[key] = (compiled.string, order, procs)
    return _plans[key]
