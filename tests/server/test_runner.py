"""The storage writer (one hop per transaction, BEGIN IMMEDIATE on SQLite) and
insert_many (executemany through the driver with the columns' own conversions)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Boolean, Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from server.storage.engine import create_engine
from server.storage.runner import runner
from server.storage.schema import UtcDateTime
from server.storage.util import MAX_IN, insert_many, select_in

meta = MetaData()
rows_t = Table(
    "rows",
    meta,
    Column("id", Integer, primary_key=True),
    Column("name", String(20)),
    Column("at", UtcDateTime()),
    Column("flag", Boolean),
)


@pytest.fixture
async def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'w.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(meta.create_all)
    yield engine
    await engine.dispose()


def _add(conn: Connection, name: str) -> int:
    conn.execute(insert(rows_t).values(name=name))
    return len(conn.execute(select(rows_t.c.id)).all())


def _fail(conn: Connection) -> None:
    conn.execute(insert(rows_t).values(name="never"))
    raise ValueError("boom")


async def names(engine) -> list[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return list((await conn.execute(select(rows_t.c.name).order_by(rows_t.c.id))).scalars())


async def test_a_transaction_commits_when_it_returns_and_rolls_back_when_it_raises(engine) -> None:  # type: ignore[no-untyped-def]
    assert await runner(engine).write(_add, "one") == 1
    with pytest.raises(ValueError):
        await runner(engine).write(_fail)
    assert await names(engine) == ["one"]


async def test_a_write_waits_for_another_writer_instead_of_failing(engine) -> None:  # type: ignore[no-untyped-def]
    # An async-engine transaction holds the write lock; the writer's BEGIN IMMEDIATE
    # must wait for it (busy timeout), not fail at once with "database is locked".
    async with engine.connect() as other:
        await other.exec_driver_sql("BEGIN IMMEDIATE")
        await other.exec_driver_sql("INSERT INTO rows (name) VALUES ('first')")
        pending = asyncio.ensure_future(runner(engine).write(_add, "second"))
        await asyncio.sleep(0.3)
        assert not pending.done()
        await other.exec_driver_sql("COMMIT")
    assert await pending == 2
    assert await names(engine) == ["first", "second"]


async def test_the_writer_is_shared_per_engine_and_renewed_after_dispose(engine) -> None:  # type: ignore[no-untyped-def]
    first = runner(engine)
    assert runner(engine) is first
    await engine.dispose()
    assert runner(engine) is not first
    assert await runner(engine).write(_add, "after") == 1


def _insert_both(conn: Connection, rows: list[tuple[str, datetime, bool]]) -> None:
    insert_many(conn, rows_t, ("name", "at", "flag"), rows)
    conn.execute(insert(rows_t), [{"name": n, "at": a, "flag": f} for n, a, f in rows])


async def test_insert_many_stores_what_the_generic_insert_stores(engine) -> None:  # type: ignore[no-untyped-def]
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    paris = now.astimezone(ZoneInfo("Europe/Paris"))
    rows = [("a", now, True), ("b", paris + timedelta(microseconds=5), False), ("c", now, True)]
    await runner(engine).write(_insert_both, rows)
    async with engine.connect() as conn:
        got = (await conn.execute(select(rows_t.c.name, rows_t.c.at, rows_t.c.flag))).all()
    fast, generic = got[:3], got[3:]
    assert [tuple(r) for r in fast] == [tuple(r) for r in generic]
    assert fast[1].at == now + timedelta(microseconds=5)  # converted to UTC, not shifted
    assert fast[0].flag is True and fast[1].flag is False


async def test_insert_many_refuses_a_naive_time_like_the_generic_insert(engine) -> None:  # type: ignore[no-untyped-def]
    naive = datetime(2026, 11, 25, 12, 0)

    def bad(conn: Connection) -> None:
        insert_many(conn, rows_t, ("name", "at"), [("x", naive)])

    with pytest.raises(ValueError, match="naive"):
        await runner(engine).write(bad)
    assert await names(engine) == []


def test_utc_datetimes_are_stored_as_sqlite_datetime_text() -> None:
    # Rows written before the one-step converter must compare and sort with new ones.
    from sqlalchemy.dialects.sqlite import DATETIME
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    dialect = SQLiteDialect_pysqlite()
    ours = UtcDateTime().bind_processor(dialect)
    theirs = DATETIME().bind_processor(dialect)
    for value in (
        datetime(2026, 11, 25, 12, 0, tzinfo=UTC),
        datetime(2026, 3, 29, 2, 30, 59, 999_999, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
    ):
        assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))


async def test_execute_many_runs_an_update_with_constants_like_the_generic_path(engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import bindparam, update

    from server.storage.util import execute_many

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    stmt = (
        update(rows_t)
        .where(rows_t.c.name == bindparam("b_name"))
        .values(at=bindparam("b_at"), flag=True)  # a constant of the statement
    )

    def work(conn: Connection) -> None:
        insert_many(conn, rows_t, ("name", "flag"), [("a", False), ("b", False), ("c", False)])
        execute_many(conn, stmt, ("b_name", "b_at"), [("a", now), ("c", now + timedelta(hours=1))])

    await runner(engine).write(work)
    async with engine.connect() as conn:
        got = (await conn.execute(select(rows_t.c.name, rows_t.c.at, rows_t.c.flag))).all()
    assert [tuple(r) for r in got] == [
        ("a", now, True),
        ("b", None, False),
        ("c", now + timedelta(hours=1), True),
    ]


def _insert_twice(conn: Connection) -> None:
    insert_many(conn, uniq_t, ("name",), [("a",), ("b",)])
    insert_many(conn, uniq_t, ("name",), [("c",), ("a",)])


def _lookup(conn: Connection, values: list[str]) -> list[tuple[int, str]]:
    rows = select_in(conn, {}, select(uniq_t.c.id, uniq_t.c.name), uniq_t.c.name, values)
    return sorted((row.id, row.name) for row in rows)


uniq_t = Table(
    "uniq", meta, Column("id", Integer, primary_key=True), Column("name", String, unique=True)
)


async def test_driver_errors_surface_as_sqlalchemy_errors_and_roll_back(engine) -> None:  # type: ignore[no-untyped-def]
    # Statements of util run straight on sqlite3; its errors still come out as
    # SQLAlchemy's (callers catch those), and the whole transaction is undone.
    with pytest.raises(IntegrityError):
        await runner(engine).write(_insert_twice)
    assert await runner(engine).read(_lookup, ["a", "b", "c"]) == []


async def test_select_in_reads_lists_longer_than_one_statement(engine) -> None:  # type: ignore[no-untyped-def]
    names = [f"n{i}" for i in range(MAX_IN * 2 + 5)]

    def fill(conn: Connection) -> None:
        insert_many(conn, uniq_t, ("name",), [(n,) for n in names])

    await runner(engine).write(fill)
    wanted = [*names[::3], "absent"]
    found = await runner(engine).read(_lookup, wanted)
    assert [name for _, name in found] == sorted(names[::3], key=names.index)
