"""Contract tests: the SQLite event log and its in-memory twin behave the same; the DuckDB
event store hands out the same columns whether it was filled directly or synced from SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from supportbot.analytics.table import NONE_ID, columns_from
from supportbot.domain.errors import StorageError
from supportbot.domain.events import Event, EventKind
from supportbot.storage.db import Database
from supportbot.storage.event_store import DuckDbEventStore, events_to_arrow
from supportbot.storage.events import (
    MIGRATIONS,
    InMemoryEventLog,
    SqliteEventLog,
    SqliteEventSource,
    event_store_path,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def log(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[InMemoryEventLog | SqliteEventLog]:
    if request.param == "memory":
        yield InMemoryEventLog()
        return
    db = await Database.open(tmp_path / "events.sqlite3", MIGRATIONS)
    try:
        yield SqliteEventLog(db)
    finally:
        await db.close()


def _sample() -> list[Event]:
    return [
        Event(T0, EventKind.MESSAGE_RECEIVED, "c1", 7, data={"lang": "ru", "text_len": 12}),
        Event(
            T0 + timedelta(seconds=1),
            EventKind.DECISION,
            "c1",
            7,
            data={
                "decision": "suggest",
                "confidence": 0.5,
                "articles": ["a/b", "c/d"],
                "text": "карта не проходит",
            },
            arms={"exp": "B"},
        ),
        Event(
            T0 + timedelta(seconds=2),
            EventKind.SUGGESTION_SHOWN,
            "c1",
            7,
            data={"articles": ["a/b", "c/d"]},
        ),
        Event(
            T0 + timedelta(seconds=3),
            EventKind.FEEDBACK,
            "c1",
            7,
            article_id="a/b",
            data={"helpful": False, "extra": [1, 2]},
        ),
        Event(
            T0 + timedelta(seconds=4),
            EventKind.HANDOFF,
            "c1",
            7,
            ticket_id=5,
            data={"reason": "not_helpful"},
        ),
        Event(T0 + timedelta(seconds=9), EventKind.TAKEN, "c1", 7, ticket_id=5, operator_id=42),
        Event(T0 + timedelta(seconds=20), EventKind.STEP_DONE, "c1", 7, data={"step": 2}),
        Event(
            T0 + timedelta(seconds=30),
            EventKind.CLOSED,
            "c1",
            7,
            ticket_id=5,
            operator_id=42,
            data={
                "category": "payments",
                "subcategory": "card",
                "by": "operator",
                "solved_by_bot": False,
            },
        ),
    ]


async def test_event_log_round_trips_every_field(log: InMemoryEventLog | SqliteEventLog) -> None:
    events = _sample()
    await log.append_many(events[:3])
    for event in events[3:]:
        await log.append(event)
    got = await log.read(T0, T0 + timedelta(hours=1))
    assert got == events
    assert type(got[6].data["step"]) is int
    assert got[0].ts.tzinfo is not None


async def test_event_log_read_is_half_open_and_time_ordered(
    log: InMemoryEventLog | SqliteEventLog,
) -> None:
    events = _sample()
    await log.append_many(list(reversed(events)))
    got = await log.read(T0 + timedelta(seconds=1), T0 + timedelta(seconds=9))
    assert [e.kind for e in got] == [
        EventKind.DECISION,
        EventKind.SUGGESTION_SHOWN,
        EventKind.FEEDBACK,
        EventKind.HANDOFF,
    ]


async def test_event_log_accepts_other_time_zones_and_refuses_naive(
    log: InMemoryEventLog | SqliteEventLog,
) -> None:
    moscow = timezone(timedelta(hours=3))
    event = Event(datetime(2024, 3, 1, 15, 0, tzinfo=moscow), EventKind.BOT_REPLY, "c", 1)
    await log.append(event)
    got = await log.read(T0, T0 + timedelta(seconds=1))
    assert len(got) == 1
    assert got[0].ts == T0
    with pytest.raises(ValueError, match="timezone-aware"):
        await log.append(Event(datetime(2024, 3, 1), EventKind.BOT_REPLY, "c", 1))  # noqa: DTZ001


@pytest.fixture(params=["memory", "sqlite"])
async def filled_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DuckDbEventStore]:
    """A store holding `_sample()`: appended in memory, or synced from a SQLite log."""
    if request.param == "memory":
        store = DuckDbEventStore()
        store.append_many(_sample())
    else:
        path = tmp_path / "events.sqlite3"
        db = await Database.open(path, MIGRATIONS)
        await SqliteEventLog(db).append_many(_sample())
        await db.close()
        store = DuckDbEventStore(event_store_path(path))
        assert store.sync(SqliteEventSource(path)) == len(_sample())
    try:
        yield store
    finally:
        store.close()


async def test_event_store_columns_match_events(filled_store: DuckDbEventStore) -> None:
    events = _sample()
    cols = await filled_store.read_columns(T0, T0 + timedelta(hours=1))
    expected = columns_from(events)
    assert len(cols) == len(events)
    order = np.argsort(cols.ts, kind="stable")
    assert cols.ts[order].tolist() == expected.ts.tolist()
    kinds = [cols.strings[k] for k in cols.kind[order]]
    assert kinds == [str(e.kind) for e in events]
    assert cols.operator[order].tolist()[5] == 42
    assert cols.ticket[order].tolist()[0] == NONE_ID
    assert cols.value[order][1] == 0.5
    assert cols.flag[order].tolist()[3] == 0
    assert cols.strings[cols.items[order][2]] == "a/b\x1fc/d"
    texts = await filled_store.read_texts(cols.event_id.tolist())
    assert list(texts.values()) == ["карта не проходит"]
    # Every derived column says what the Python reading of the same events says.
    for name in ("value", "flag"):
        assert np.array_equal(getattr(cols, name)[order], getattr(expected, name), equal_nan=True)
    for name in ("article", "label", "label2", "items"):
        mine = [cols.strings[c] if c >= 0 else None for c in getattr(cols, name)[order]]
        theirs = [expected.strings[c] if c >= 0 else None for c in getattr(expected, name)]
        assert mine == theirs, name


async def test_event_store_empty_period(filled_store: DuckDbEventStore) -> None:
    cols = await filled_store.read_columns(T0 + timedelta(days=1), T0 + timedelta(days=2))
    assert len(cols) == 0


async def test_event_log_columns_for_stats_match_the_store(
    log: InMemoryEventLog | SqliteEventLog,
) -> None:
    await log.append_many(_sample())
    cols = await log.read_columns(T0, T0 + timedelta(hours=1))
    expected = columns_from(_sample())
    assert cols.ts.tolist() == expected.ts.tolist()
    assert np.array_equal(cols.value, expected.value, equal_nan=True)
    assert [cols.strings[k] for k in cols.kind] == [str(e.kind) for e in _sample()]
    if isinstance(log, SqliteEventLog):
        texts = await log.read_texts(cols.event_id.tolist())
        assert list(texts.values()) == ["карта не проходит"]


async def test_event_log_empty_period(log: InMemoryEventLog | SqliteEventLog) -> None:
    assert await log.read(T0, T0 + timedelta(days=1)) == []


async def test_event_store_sync_copies_only_new_rows_and_starts_over_for_a_new_database(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.sqlite3"
    events = [
        Event(T0 + timedelta(seconds=i), EventKind.BOT_REPLY, f"c{i % 3}", i) for i in range(23)
    ]

    async def append(part: list[Event]) -> None:
        # Closed before the source reads: ADBC brings its own SQLite library, and two in
        # one process do not see each other's file locks.
        db = await Database.open(path, MIGRATIONS)
        await SqliteEventLog(db).append_many(part)
        await db.close()

    await append(events[:10])
    store = DuckDbEventStore(event_store_path(path))
    source = SqliteEventSource(path, batch_rows=4)  # several batches
    assert store.sync(source) == 10
    await append(events[10:])
    assert store.sync(source) == 13
    assert store.sync(source) == 0
    cols = store.columns(T0 + timedelta(seconds=2), T0 + timedelta(seconds=20))
    assert cols.user.tolist() == list(range(2, 20))
    # The database was replaced (a new demo, say): the store copies it afresh.
    path.unlink()  # closed cleanly: no -wal or -shm left
    db = await Database.open(path, MIGRATIONS)
    await SqliteEventLog(db).append_many([Event(T0, EventKind.HANDOFF, "x", 99)])
    await db.close()
    assert store.sync(source) == 1
    assert store.columns().user.tolist() == [99]
    store.close()


async def test_event_store_refuses_a_second_writer_with_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    first = DuckDbEventStore(path)
    try:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            message = pool.apply(_open_elsewhere, (path,))
        assert "in use by another process" in message
    finally:
        first.close()


def _open_elsewhere(path: Path) -> str:
    try:
        DuckDbEventStore(path).close()
    except StorageError as exc:
        return str(exc)
    return "opened"


async def test_sqlite_event_source_bulk_append_reads_back_as_events(tmp_path: Path) -> None:
    path = tmp_path / "bulk.sqlite3"
    db = await Database.open(path, MIGRATIONS)
    await db.close()
    SqliteEventSource(path).append(events_to_arrow(_sample(), first_id=1))
    db = await Database.open(path, MIGRATIONS)
    got = await SqliteEventLog(db).read(T0, T0 + timedelta(hours=1))
    await db.close()
    assert got == _sample()


def test_event_store_of_another_layout_is_rebuilt_from_the_source(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE events (id BIGINT, ts BIGINT); INSERT INTO events VALUES (1, 2)")
    old.execute(
        "CREATE TABLE synced (event_id BIGINT, ts BIGINT); INSERT INTO synced VALUES (1, 2)"
    )
    old.close()
    store = DuckDbEventStore(path)
    assert store.last_synced() is None  # nothing kept: the next sync copies everything
    store.append_many(_sample())
    assert len(store.columns()) == len(_sample())
    store.close()
