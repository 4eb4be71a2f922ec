"""The analytics event log in SQLite (one row per event) and its in-memory twin.

Rows are the source of truth: the bot appends them, `/stats` reads a day or a week of them.
Reports read a month of millions through the DuckDB event store (`storage.event_store`),
which copies new rows through `SqliteEventSource`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from supportbot.analytics.table import EventColumns, from_micros, to_micros
from supportbot.domain.events import Event, EventKind
from supportbot.storage.db import Database, Migration
from supportbot.storage.event_store import RAW_SCHEMA, DuckDbEventStore

MIGRATIONS: list[Migration] = [
    (
        "events_001",
        """
        CREATE TABLE IF NOT EXISTS events (
            id INTEGER PRIMARY KEY,
            ts INTEGER NOT NULL,            -- microseconds since the epoch, UTC
            kind TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            ticket_id INTEGER,
            operator_id INTEGER,
            article_id TEXT,
            data TEXT,                      -- JSON object, NULL when empty
            arms TEXT                       -- JSON object, NULL when empty
        );
        CREATE INDEX IF NOT EXISTS events_ts ON events (ts);
        CREATE TABLE IF NOT EXISTS event_blocks (
            first_id INTEGER PRIMARY KEY,
            last_id INTEGER NOT NULL,
            ts_min INTEGER NOT NULL,
            ts_max INTEGER NOT NULL,
            payload BLOB NOT NULL
        );
        CREATE INDEX IF NOT EXISTS event_blocks_ts ON event_blocks (ts_min, ts_max);
        """,
    ),
    # Compressed column blocks were the report's columnar copy; the DuckDB store is now.
    ("events_002", "DROP TABLE IF EXISTS event_blocks;"),
]

_BATCH = 500  # stays under SQLite's host-parameter limit
_COLUMNS = "id, ts, kind, conversation_id, user_id, ticket_id, operator_id, article_id, data, arms"


# One encoder for all rows: json.dumps with options builds a new encoder on every call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(value: dict[str, Any]) -> str | None:
    return _JSON.encode(value) if value else None


def _row(micros: int, event: Event, arms: str | None) -> tuple[Any, ...]:
    return (
        micros,
        str(event.kind),
        event.conversation_id,
        event.user_id,
        event.ticket_id,
        event.operator_id,
        event.article_id,
        _dumps(event.data),
        arms,
    )


def _event(row: Sequence[Any]) -> Event:
    return Event(
        ts=from_micros(row[1]),
        kind=EventKind(row[2]),
        conversation_id=row[3],
        user_id=row[4],
        ticket_id=row[5],
        operator_id=row[6],
        article_id=row[7],
        data=json.loads(row[8]) if row[8] else {},
        arms=json.loads(row[9]) if row[9] else {},
    )


class SqliteEventLog:
    """`EventLog` (and `ColumnarEventLog`) in the shared SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def append(self, event: Event) -> None:
        """Record one event."""
        await self.append_many([event])

    async def append_many(self, events: Sequence[Event]) -> None:
        """Record events in one transaction."""
        if not events:
            return
        rows = [_row(to_micros(event.ts), event, _dumps(event.arms)) for event in events]
        async with self._db.transaction() as conn:
            await conn.executemany(
                f"INSERT INTO events ({_COLUMNS[4:]}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
            )

    async def read(self, since: datetime, until: datetime) -> list[Event]:
        """Events with since <= ts < until, oldest first."""
        async with self._db.connection.execute(
            f"SELECT {_COLUMNS} FROM events WHERE ts >= ? AND ts < ? ORDER BY ts, id",
            (to_micros(since), to_micros(until)),
        ) as cursor:
            rows = await cursor.fetchall()
        return [_event(row) for row in rows]

    async def read_columns(self, since: datetime, until: datetime) -> EventColumns:
        """A day or a week of events as columns (`/stats`), through an in-memory DuckDB
        store: the same extraction as reports, without an `Event` object per row."""
        async with self._db.connection.execute(
            f"SELECT {_COLUMNS} FROM events WHERE ts >= ? AND ts < ? ORDER BY ts, id",
            (to_micros(since), to_micros(until)),
        ) as cursor:
            rows = list(await cursor.fetchall())
        return await asyncio.to_thread(_columns_of_rows, rows)

    async def read_texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The `data["text"]` of the given events, for those that have one."""
        found: dict[int, str] = {}
        unique = list(dict.fromkeys(int(i) for i in event_ids))
        for start in range(0, len(unique), _BATCH):
            part = unique[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            async with self._db.connection.execute(
                f"SELECT id, json_extract(data, '$.text') FROM events WHERE id IN ({marks})",
                part,
            ) as cursor:
                for event_id, text in await cursor.fetchall():
                    if isinstance(text, str):
                        found[int(event_id)] = text
        return found


def _columns_of_rows(rows: Sequence[Sequence[Any]]) -> EventColumns:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(RAW_SCHEMA)
    raw = pa.table(
        [
            pa.array(column, type=field.type)
            for column, field in zip(columns, RAW_SCHEMA, strict=True)
        ],
        schema=RAW_SCHEMA,
    )
    store = DuckDbEventStore(threads=1)
    try:
        store.ingest(raw)
        return store.columns()
    finally:
        store.close()


def event_store_path(database: Path) -> Path:
    """Where the DuckDB event store of a SQLite database lives: beside it."""
    return database.with_name(f"{database.stem}.events.duckdb")


class SqliteEventSource:
    """The rows of a SQLite event log as Arrow batches (`EventSource` of the event store).

    Read through ADBC, which fills Arrow columns in C: a month of rows in seconds, where
    Python tuples would take minutes. ADBC links its own SQLite library, and two SQLite
    libraries in one process do not see each other's file locks: use a source only while
    no aiosqlite `Database` on the same file is open in this process (the report and
    demo-data commands close theirs first).
    """

    def __init__(self, path: Path, *, batch_rows: int = 500_000) -> None:
        self._path = path
        self._batch_rows = batch_rows

    def _query(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(str(self._path), autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(sql, list(params))
            table: pa.Table = cursor.fetch_arrow_table()
        return table

    def last_id(self) -> int:
        """The highest event id (0 when empty)."""
        value = self._query("SELECT coalesce(max(id), 0) AS m FROM events").column(0)[0]
        return int(value.as_py())

    def ts_of(self, event_id: int) -> int | None:
        """The timestamp of one event, None when there is no such id."""
        found = self._query("SELECT ts FROM events WHERE id = ?", [event_id]).column(0)
        return int(found[0].as_py()) if len(found) else None

    def batches_after(self, event_id: int) -> Iterator[pa.RecordBatch]:
        """Rows with id > `event_id` in id order, `batch_rows` at a time."""
        last = self.last_id()
        while event_id < last:
            upper = event_id + self._batch_rows
            table = self._query(
                f"SELECT {_COLUMNS} FROM events WHERE id > ? AND id <= ? ORDER BY id",
                [event_id, upper],
            )
            yield from table.cast(RAW_SCHEMA).to_batches()
            event_id = upper

    def append(self, raw: pa.Table) -> None:
        """Append rows in `RAW_SCHEMA` (ids included) in one transaction (bulk loads)."""
        import adbc_driver_sqlite.dbapi as adbc

        with adbc.connect(str(self._path)) as conn:
            with conn.cursor() as cursor:
                cursor.adbc_ingest("events", raw.cast(RAW_SCHEMA), mode="append")
            conn.commit()


class InMemoryEventLog:
    """`EventLog` (and `ColumnarEventLog`) twin kept in a list (tests, demos)."""

    def __init__(self) -> None:
        self._events: list[Event] = []

    async def append(self, event: Event) -> None:
        """Record one event."""
        to_micros(event.ts)
        self._events.append(event)

    async def append_many(self, events: Sequence[Event]) -> None:
        """Record many events."""
        for event in events:
            to_micros(event.ts)
        self._events.extend(events)

    def _ids_between(self, since: datetime, until: datetime) -> list[int]:
        low, high = to_micros(since), to_micros(until)
        ids = [i for i, e in enumerate(self._events) if low <= to_micros(e.ts) < high]
        return sorted(ids, key=lambda i: to_micros(self._events[i].ts))

    async def read(self, since: datetime, until: datetime) -> list[Event]:
        """Events with since <= ts < until, oldest first."""
        return [self._events[i] for i in self._ids_between(since, until)]

    async def read_columns(self, since: datetime, until: datetime) -> EventColumns:
        """Events with since <= ts < until as columns (as the SQLite log hands them out)."""
        events = await self.read(since, until)
        store = DuckDbEventStore(threads=1)
        try:
            store.append_many(events)
            return store.columns()
        finally:
            store.close()
