"""The analytics event log in SQLite (rows plus compressed column blocks) and its in-memory twin.

Rows are the source of truth and keep every field. A month of a busy bot is millions of
rows, and turning millions of rows into Python objects takes longer than a report may, so
sealed runs of rows are also stored as compressed numpy column blocks (`EventColumns`).
Blocks are derived data: they never change once written and can be rebuilt from the rows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from supportbot.analytics.columns import NONE_ID, EventColumns, from_micros, to_micros
from supportbot.domain.events import Event, EventKind
from supportbot.storage.db import Database, Migration

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
    )
]

BLOCK_MIN = 20_000
"""Unsealed rows are packed into a block once there are this many (reads of the tail stay
cheap; a live bot pays a fraction of a second once per this many events)."""

BLOCK_MAX = 250_000
"""Rows per block at most, so packing never holds a huge batch in memory twice."""

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
        """Record events in one transaction; seal a block when enough rows have gathered."""
        if events:
            await self.append_encoded(await asyncio.to_thread(encode_events, events))

    async def append_encoded(self, encoded: EncodedEvents) -> None:
        """Record events prepared by `encode_events` (which may run in another process)."""
        if not encoded.rows:
            return
        # IMMEDIATE: ids are taken from max(id), so no other writer may slip in between.
        async with self._db.transaction(immediate=True) as conn:
            last_id = await self._scalar("SELECT coalesce(max(id), 0) FROM events")
            sealed = await self._scalar("SELECT coalesce(max(last_id), 0) FROM event_blocks")
            first_id = last_id + 1
            await conn.executemany(
                f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(first_id + i, *row) for i, row in enumerate(encoded.rows)],
            )
            new_last = last_id + len(encoded.rows)
            if new_last - sealed >= BLOCK_MIN:
                if sealed == last_id and encoded.blocks:
                    # The whole tail is this batch, already packed: no read-back needed.
                    for offset, block in encoded.blocks:
                        await self._insert_block(first_id + offset, block)
                else:
                    tail = await self._rows_after(sealed)
                    events = [_event(row) for row in tail]
                    for offset, block in await asyncio.to_thread(_pack_all, events):
                        await self._insert_block(sealed + 1 + offset, block)

    async def _scalar(self, sql: str) -> int:
        async with self._db.connection.execute(sql) as cursor:
            row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0

    async def _rows_after(self, event_id: int) -> list[Any]:
        async with self._db.connection.execute(
            f"SELECT {_COLUMNS} FROM events WHERE id > ? ORDER BY id", (event_id,)
        ) as cursor:
            return list(await cursor.fetchall())

    async def _insert_block(self, first_id: int, block: _Block) -> None:
        await self._db.connection.execute(
            "INSERT INTO event_blocks (first_id, last_id, ts_min, ts_max, payload) "
            "VALUES (?, ?, ?, ?, ?)",
            (first_id, first_id + block.count - 1, block.ts_min, block.ts_max, block.payload),
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
        """Events with since <= ts < until as columns: sealed blocks plus the unsealed tail."""
        low, high = to_micros(since), to_micros(until)
        sealed = await self._scalar("SELECT coalesce(max(last_id), 0) FROM event_blocks")
        async with self._db.connection.execute(
            "SELECT first_id, ts_min, ts_max, payload FROM event_blocks "
            "WHERE ts_max >= ? AND ts_min < ? ORDER BY first_id",
            (low, high),
        ) as cursor:
            payloads = [
                (int(row[0]), int(row[1]), int(row[2]), bytes(row[3]))
                for row in await cursor.fetchall()
            ]
        async with self._db.connection.execute(
            f"SELECT {_COLUMNS} FROM events WHERE id > ? AND ts >= ? AND ts < ? ORDER BY id",
            (sealed, low, high),
        ) as cursor:
            tail = list(await cursor.fetchall())
        return await asyncio.to_thread(_unpack, payloads, tail, low, high)

    async def read_texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The `data["text"]` of the given events, for those that have one."""
        found: dict[int, str] = {}
        unique = list(dict.fromkeys(int(i) for i in event_ids))
        for start in range(0, len(unique), _BATCH):
            part = unique[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            async with self._db.connection.execute(
                f"SELECT id, data FROM events WHERE id IN ({marks})", part
            ) as cursor:
                for event_id, data in await cursor.fetchall():
                    text = json.loads(data).get("text") if data else None
                    if isinstance(text, str):
                        found[int(event_id)] = text
        return found


@dataclass(frozen=True, slots=True)
class _Block:
    """A packed run of events; its `event_id` column holds offsets from the block's first id."""

    count: int
    ts_min: int
    ts_max: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class EncodedEvents:
    """Events turned into rows (without ids) and, for big batches, packed blocks.

    Plain data, so a worker process can make it and the writer only inserts it.
    """

    rows: list[tuple[Any, ...]]
    blocks: list[tuple[int, _Block]]


def _pack_all(
    events: Sequence[Event], micros: Sequence[int] | None = None
) -> list[tuple[int, _Block]]:
    out: list[tuple[int, _Block]] = []
    for start in range(0, len(events), BLOCK_MAX):
        part = events[start : start + BLOCK_MAX]
        part_micros = micros[start : start + BLOCK_MAX] if micros is not None else None
        columns = EventColumns.from_events(part, range(len(part)), part_micros)
        block = _Block(len(part), int(columns.ts.min()), int(columns.ts.max()), columns.to_bytes())
        out.append((start, block))
    return out


def encode_events(events: Sequence[Event]) -> EncodedEvents:
    """Prepare events for `SqliteEventLog.append_encoded` (CPU work; any thread or process).

    Raises:
        ValueError: an event has a naive timestamp (nothing is written then).
    """
    micros = [to_micros(event.ts) for event in events]
    arms_json: dict[int, str | None] = {}  # id() of an arms dict; all are alive here
    rows = []
    for ts, event in zip(micros, events, strict=True):
        key = id(event.arms)
        if key not in arms_json:
            arms_json[key] = _dumps(event.arms)
        rows.append(_row(ts, event, arms_json[key]))
    blocks = _pack_all(events, micros) if len(events) >= BLOCK_MIN else []
    return EncodedEvents(rows, blocks)


def encode_columns(
    columns: EventColumns, conversation_ids: Sequence[str], data: Sequence[str | None]
) -> EncodedEvents:
    """Prepare events that exist only as columns (the demo history) for `append_encoded`.

    `columns` must have `event_id` 0..n-1 in time order; `conversation_ids` and `data`
    (the JSON text of each row's `data`) are per row. No `Event` objects are made: a month
    of a busy bot would not fit the time budget that way.
    """
    n = len(columns)
    if not (len(conversation_ids) == len(data) == n):
        raise ValueError("conversation_ids and data must have one entry per row")
    # The strings of code columns (plus None for NO_CODE: index -1 is the extra last entry).
    table = np.empty(len(columns.strings) + 1, dtype=object)
    table[:-1] = columns.strings
    table[-1] = None

    def ids(values: npt.NDArray[np.int64]) -> list[int | None]:
        out = values.astype(object)
        out[values == NONE_ID] = None
        return list(out.tolist())

    # The arms code's string is `arms_key`'s canonical JSON: exactly what a row stores.
    rows = list(
        zip(
            columns.ts.tolist(),
            table[columns.kind].tolist(),
            conversation_ids,
            columns.user.tolist(),
            ids(columns.ticket),
            ids(columns.operator),
            table[columns.article].tolist(),
            data,
            table[columns.arms].tolist(),
            strict=True,
        )
    )
    blocks: list[tuple[int, _Block]] = []
    if n >= BLOCK_MIN:
        for start in range(0, n, BLOCK_MAX):
            part = columns.select(np.arange(start, min(n, start + BLOCK_MAX)))
            part = replace(part, event_id=part.event_id - start)
            block = _Block(len(part), int(part.ts.min()), int(part.ts.max()), part.to_bytes())
            blocks.append((start, block))
    return EncodedEvents(rows, blocks)


def _unpack(
    payloads: list[tuple[int, int, int, bytes]], tail: list[Any], low: int, high: int
) -> EventColumns:
    rest = None
    if tail:
        rest = EventColumns.from_events([_event(row) for row in tail], [r[0] for r in tail])
    return EventColumns.from_blocks(payloads, low, high, tail=rest)


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
        """Events with since <= ts < until as columns."""
        ids = self._ids_between(since, until)
        return EventColumns.from_events([self._events[i] for i in ids], ids)

    async def read_texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The `data["text"]` of the given events, for those that have one."""
        found: dict[int, str] = {}
        for event_id in np.unique(np.asarray(event_ids, dtype=np.int64)).tolist():
            if 0 <= event_id < len(self._events):
                text = self._events[event_id].data.get("text")
                if isinstance(text, str):
                    found[event_id] = text
        return found
