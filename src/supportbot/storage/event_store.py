"""The analytics event store on DuckDB: the event log's rows as columns, for reports.

The bot appends events to its operational database (SQLite today, PostgreSQL with the
scale-out work); that stays the source of truth. Reports need a month of millions of events
as columns in a second, which a row store cannot hand out, so `DuckDbEventStore` keeps a
columnar copy in a DuckDB file beside the database and brings it up to date from an
`EventSource` (rows with ids above the last one it holds) before each report.

Which `data` key becomes which column is declared once in `analytics.table` (`VALUE_KEY`,
...); here it is turned into SQL, so DuckDB extracts millions of rows without Python.

DuckDB's own SQLite and PostgreSQL readers are extensions downloaded at run time, which a
machine without internet cannot do; sources therefore hand over Arrow batches (ADBC for
SQLite; `adbc-driver-postgresql` gives PostgreSQL the same shape).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa

from supportbot.analytics.table import (
    FLAG_KEY,
    ITEM_SEP,
    ITEMS_KEY,
    LABEL2_KEY,
    LABEL_KEY,
    NO_CODE,
    NONE_ID,
    VALUE_KEY,
    EventColumns,
    from_micros,
    to_micros,
)
from supportbot.domain.errors import StorageError
from supportbot.domain.events import Event, EventKind

RAW_SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("ts", pa.int64()),  # microseconds since the epoch, UTC
        ("kind", pa.string()),
        ("conversation_id", pa.string()),
        ("user_id", pa.int64()),
        ("ticket_id", pa.int64()),
        ("operator_id", pa.int64()),
        ("article_id", pa.string()),
        ("data", pa.string()),  # JSON object or null
        ("arms", pa.string()),  # JSON object or null
    ]
)
"""The rows of an event log as every source hands them over."""


class EventSource(Protocol):
    """Where the store copies events from: an event log's rows, by increasing id."""

    def last_id(self) -> int:
        """The highest event id in the source (0 when empty)."""
        ...

    def ts_of(self, event_id: int) -> int | None:
        """The timestamp (microseconds) of one event, None when there is no such id."""
        ...

    def batches_after(self, event_id: int) -> Iterator[pa.RecordBatch]:
        """The rows with id > `event_id` in `RAW_SCHEMA`, in id order."""
        ...


def _json_case(table: dict[str, str], value_sql: str, otherwise: str = "NULL") -> str:
    """A SQL CASE over `kind` picking `value_sql` (with {key} filled in) per kind."""
    arms = " ".join(
        f"WHEN '{kind}' THEN {value_sql.format(key=key)}" for kind, key in table.items()
    )
    return f"CASE kind {arms} ELSE {otherwise} END"


# One SQL expression per derived column, from the same tables `EventColumns.from_events`
# uses. json_type guards keep the Python rules: numbers only (not booleans), booleans only,
# strings only, non-empty lists only.
_VALUE = _json_case(
    VALUE_KEY,
    "CASE WHEN json_type(data, '$.{key}') IN ('BIGINT', 'UBIGINT', 'DOUBLE') "
    "THEN CAST(json_extract(data, '$.{key}') AS DOUBLE) END",
)
_FLAG = _json_case(
    FLAG_KEY,
    "CASE WHEN json_type(data, '$.{key}') = 'BOOLEAN' "
    "THEN CAST(CAST(json_extract(data, '$.{key}') AS BOOLEAN) AS TINYINT) END",
)
_LABEL = _json_case(
    LABEL_KEY,
    "CASE WHEN json_type(data, '$.{key}') = 'VARCHAR' THEN data ->> '$.{key}' END",
)
_LABEL2 = _json_case(
    LABEL2_KEY,
    "CASE WHEN json_type(data, '$.{key}') = 'VARCHAR' THEN data ->> '$.{key}' END",
)
_ITEMS = _json_case(
    ITEMS_KEY,
    "CASE WHEN json_array_length(data, '$.{key}') > 0 THEN array_to_string("
    f"CAST(json_extract_string(data, '$.{{key}}[*]') AS VARCHAR[]), chr({ord(ITEM_SEP)})) END",
)
_TEXT = "CASE kind WHEN 'decision' THEN data ->> '$.text' END"

LAYOUT_VERSION = 1
"""Bumped whenever the tables below change: an older store is then rebuilt from its source."""

_STRING_COLUMNS = ("kind", "article", "label", "label2", "items", "arms")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS strings (code INTEGER PRIMARY KEY, text VARCHAR NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events (
    id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    conversation BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    ticket BIGINT NOT NULL,      -- NONE_ID when absent
    operator BIGINT NOT NULL,    -- NONE_ID when absent
    kind INTEGER NOT NULL,       -- codes into strings; NO_CODE when absent
    article INTEGER NOT NULL,
    label INTEGER NOT NULL,
    label2 INTEGER NOT NULL,
    items INTEGER NOT NULL,
    arms INTEGER NOT NULL,
    value DOUBLE NOT NULL,       -- NaN when absent
    flag TINYINT NOT NULL,       -- -1 when absent
    text VARCHAR
);
CREATE TABLE IF NOT EXISTS conversations (id VARCHAR PRIMARY KEY, no BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS synced (event_id BIGINT NOT NULL, ts BIGINT NOT NULL);
"""


class DuckDbEventStore:
    """Events as columns in DuckDB (a file, or memory when `path` is None).

    One connection, used from one thread at a time (the lock): DuckDB work runs in
    `asyncio.to_thread` so the event loop never waits on it.
    """

    def __init__(self, path: Path | None = None, *, threads: int = 2) -> None:
        try:
            self._db = duckdb.connect(str(path) if path is not None else ":memory:")
        except duckdb.IOException as exc:
            raise StorageError(
                f"the event store {path} is in use by another process (another report?): {exc}"
            ) from None
        self._db.execute(f"SET threads = {int(threads)}")
        self._db.execute("SET enable_progress_bar = false")  # never on a report's stdout
        self._ensure_schema()
        self._lock = threading.Lock()

    def _ensure_schema(self) -> None:
        """Create the tables; a store of another layout is dropped and copied afresh (it
        is derived data: the source still has every event)."""
        self._db.execute("CREATE TABLE IF NOT EXISTS layout (version INTEGER NOT NULL)")
        found = self._db.execute("SELECT version FROM layout").fetchall()
        if found and found[0][0] == LAYOUT_VERSION:
            return
        for table in ("events", "strings", "conversations", "synced", "layout"):
            self._db.execute(f"DROP TABLE IF EXISTS {table}")
        self._db.execute(_SCHEMA)
        self._db.execute("CREATE TABLE layout (version INTEGER NOT NULL)")
        self._db.execute("INSERT INTO layout VALUES (?)", [LAYOUT_VERSION])

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # -- writing ---------------------------------------------------------------------

    def last_synced(self) -> tuple[int, int] | None:
        """(id, ts) of the newest copied event, None when nothing was copied yet."""
        with self._lock:
            rows = self._db.execute("SELECT event_id, ts FROM synced").fetchall()
        return (int(rows[0][0]), int(rows[0][1])) if rows else None

    def ingest(self, raw: pa.Table | pa.RecordBatch) -> int:
        """Copy rows in `RAW_SCHEMA` (ids above every id held); returns how many."""
        if raw.num_rows == 0:
            return 0
        with self._lock:
            self._ingest(raw)
        return int(raw.num_rows)

    def _ingest(self, raw: pa.Table | pa.RecordBatch) -> None:
        db = self._db
        db.register("raw_in", raw)
        try:
            db.execute("BEGIN")
            db.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE staged AS
                SELECT id, ts, conversation_id, user_id, ticket_id, operator_id,
                       kind, article_id AS article, {_LABEL} AS label, {_LABEL2} AS label2,
                       {_ITEMS} AS items, nullif(arms, '{{}}') AS arms,
                       {_VALUE} AS value, {_FLAG} AS flag, {_TEXT} AS text
                FROM raw_in
                """
            )
            unions = " UNION ".join(
                f"SELECT {name} AS text FROM staged WHERE {name} IS NOT NULL"
                for name in _STRING_COLUMNS
            )
            db.execute(
                f"""
                INSERT INTO strings
                SELECT (SELECT coalesce(max(code), -1) FROM strings) + row_number() OVER (),
                       text
                FROM ({unions}) AS new
                WHERE text NOT IN (SELECT text FROM strings)
                """
            )
            # Conversations are numbered densely in order of appearance: a report's frame
            # then indexes them directly instead of sorting millions of keys.
            db.execute(
                """
                INSERT INTO conversations
                SELECT conversation_id,
                       (SELECT coalesce(max(no), -1) FROM conversations)
                       + row_number() OVER (ORDER BY min(id))
                FROM staged
                WHERE conversation_id NOT IN (SELECT id FROM conversations)
                GROUP BY conversation_id
                """
            )
            joins = " ".join(
                f"LEFT JOIN strings s_{name} ON s_{name}.text = st.{name}"
                for name in _STRING_COLUMNS
            )
            # Absent values are stored as the numpy side spells them (NONE_ID, NO_CODE, NaN,
            # -1), so a report reads plain columns without a conversion per row.
            codes = ", ".join(f"coalesce(s_{name}.code, {NO_CODE})" for name in _STRING_COLUMNS)
            db.execute(
                f"""
                INSERT INTO events
                SELECT st.id, st.ts, c.no, st.user_id,
                       coalesce(st.ticket_id, {NONE_ID}), coalesce(st.operator_id, {NONE_ID}),
                       {codes}, coalesce(st.value, 'NaN'::DOUBLE), coalesce(st.flag, -1),
                       st.text
                FROM staged st JOIN conversations c ON c.id = st.conversation_id {joins}
                ORDER BY st.id
                """
            )
            db.execute(
                "DELETE FROM synced; INSERT INTO synced SELECT id, ts FROM staged "
                "ORDER BY id DESC LIMIT 1"
            )
            db.execute("DROP TABLE staged")
            db.execute("COMMIT")
        except Exception:
            db.execute("ROLLBACK")
            raise
        finally:
            db.unregister("raw_in")

    def sync(self, source: EventSource) -> int:
        """Copy what `source` holds beyond this store; returns the number of new events.

        A source that no longer has the last copied event (a new database at the same path)
        is copied afresh.
        """
        held = self.last_synced()
        if held is not None and source.ts_of(held[0]) != held[1]:
            with self._lock:
                self._db.execute(
                    "DELETE FROM events; DELETE FROM strings; DELETE FROM conversations; "
                    "DELETE FROM synced"
                )
            held = None
        copied = 0
        for batch in source.batches_after(held[0] if held else 0):
            copied += self.ingest(batch)
        return copied

    def append_many(self, events: Sequence[Event]) -> None:
        """Copy events held only in memory (tests, small tools): ids continue the store's."""
        held = self.last_synced()
        self.ingest(events_to_arrow(events, first_id=(held[0] if held else 0) + 1))

    # -- reading ---------------------------------------------------------------------

    def columns(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> EventColumns:
        """Events with since <= ts < until (all when not given) as columns, in id order
        (nearly time order: the report's frame fixes the few late rows); `conversation`
        holds dense conversation numbers."""
        low = to_micros(since) if since is not None else np.iinfo(np.int64).min
        high = to_micros(until) if until is not None else np.iinfo(np.int64).max
        with self._lock:
            strings = tuple(
                row[0]
                for row in self._db.execute("SELECT text FROM strings ORDER BY code").fetchall()
            )
            found = self._db.sql(
                """
                SELECT id AS event_id, ts, conversation, user_id AS user, ticket, operator,
                       kind, article, label, label2, items, arms, value, flag
                FROM events WHERE ts >= $low AND ts < $high
                """,
                params={"low": low, "high": high},
            ).to_arrow_table()
        dtypes = {
            **dict.fromkeys(("event_id", "ts", "conversation", "user", "ticket"), np.int64),
            "operator": np.int64,
            **dict.fromkeys(_STRING_COLUMNS, np.int32),
            "value": np.float64,
            "flag": np.int8,
        }
        fields: dict[str, Any] = {
            name: np.ascontiguousarray(found.column(name).to_numpy(), dtype=dtype)
            for name, dtype in dtypes.items()
        }
        return EventColumns(**fields, strings=strings)

    def texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """The message text of the given events, for those that have one."""
        ids = pa.table(
            {"id": pa.array(list(dict.fromkeys(int(i) for i in event_ids)), pa.int64())}
        )
        with self._lock:
            self._db.register("wanted", ids)
            try:
                rows = self._db.execute(
                    "SELECT e.id, e.text FROM events e JOIN wanted w ON e.id = w.id "
                    "WHERE e.text IS NOT NULL"
                ).fetchall()
            finally:
                self._db.unregister("wanted")
        return {int(event_id): str(text) for event_id, text in rows}

    async def read_columns(self, since: datetime, until: datetime) -> EventColumns:
        """`columns` off the event loop (the `ColumnarEventLog` port)."""
        return await asyncio.to_thread(self.columns, since, until)

    async def read_texts(self, event_ids: Sequence[int]) -> dict[int, str]:
        """`texts` off the event loop (the `ColumnarEventLog` port)."""
        return await asyncio.to_thread(self.texts, event_ids)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def events_to_arrow(events: Sequence[Event], *, first_id: int = 1) -> pa.Table:
    """Events as `RAW_SCHEMA` rows with ids from `first_id`.

    Raises:
        ValueError: an event has a naive timestamp.
    """
    return pa.table(
        {
            "id": range(first_id, first_id + len(events)),
            "ts": [to_micros(e.ts) for e in events],
            "kind": [str(e.kind) for e in events],
            "conversation_id": [e.conversation_id for e in events],
            "user_id": [e.user_id for e in events],
            "ticket_id": [e.ticket_id for e in events],
            "operator_id": [e.operator_id for e in events],
            "article_id": [e.article_id for e in events],
            "data": [_JSON.encode(e.data) if e.data else None for e in events],
            "arms": [_JSON.encode(e.arms) if e.arms else None for e in events],
        },
        schema=RAW_SCHEMA,
    )


def event_from_raw(row: dict[str, Any]) -> Event:
    """One `RAW_SCHEMA` row (as a dict) back as an `Event`."""
    return Event(
        ts=from_micros(row["ts"]),
        kind=EventKind(row["kind"]),
        conversation_id=row["conversation_id"],
        user_id=row["user_id"],
        ticket_id=row["ticket_id"],
        operator_id=row["operator_id"],
        article_id=row["article_id"],
        data=json.loads(row["data"]) if row["data"] else {},
        arms=json.loads(row["arms"]) if row["arms"] else {},
    )


def columns_of(events: Sequence[Event]) -> EventColumns:
    """Columns for plain events through DuckDB (ids are positions + 1), as a report sees them."""
    store = DuckDbEventStore()
    try:
        store.append_many(events)
        return store.columns()
    finally:
        store.close()
