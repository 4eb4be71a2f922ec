"""Contract tests: the SQLite event log and its in-memory twin behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from supportbot.analytics.columns import NONE_ID, EventColumns, columns_from
from supportbot.domain.events import Event, EventKind
from supportbot.storage import events as events_module
from supportbot.storage.db import Database
from supportbot.storage.events import MIGRATIONS, InMemoryEventLog, SqliteEventLog

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


async def test_event_log_columns_match_events(log: InMemoryEventLog | SqliteEventLog) -> None:
    events = _sample()
    await log.append_many(events)
    cols = await log.read_columns(T0, T0 + timedelta(hours=1))
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
    texts = await log.read_texts(cols.event_id.tolist())
    assert list(texts.values()) == ["карта не проходит"]


async def test_event_log_empty_period(log: InMemoryEventLog | SqliteEventLog) -> None:
    cols = await log.read_columns(T0, T0 + timedelta(days=1))
    assert len(cols) == 0
    assert await log.read(T0, T0 + timedelta(days=1)) == []


async def test_sqlite_event_log_seals_blocks_and_reads_them_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_module, "BLOCK_MIN", 5)
    db = await Database.open(tmp_path / "e.sqlite3", MIGRATIONS)
    log = SqliteEventLog(db)
    events = [
        Event(T0 + timedelta(seconds=i), EventKind.BOT_REPLY, f"c{i % 3}", i) for i in range(23)
    ]
    await log.append_many(events[:3])
    for event in events[3:9]:  # the tail passes BLOCK_MIN: read back and sealed
        await log.append(event)
    await log.append_many(events[9:])  # a big batch is sealed straight from memory
    async with db.connection.execute("SELECT count(*) FROM event_blocks") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    assert row[0] >= 2
    cols = await log.read_columns(T0 + timedelta(seconds=2), T0 + timedelta(seconds=20))
    assert sorted(cols.user.tolist()) == list(range(2, 20))
    await db.close()


def test_event_columns_serialise_and_concat() -> None:
    cols = columns_from(_sample())
    back = EventColumns.from_bytes(cols.to_bytes())
    assert back.strings == cols.strings
    assert back.ts.tolist() == cols.ts.tolist()
    both = EventColumns.concat([cols, columns_from(_sample()[::-1])])
    assert len(both) == 2 * len(cols)
    kinds = [both.strings[k] for k in both.kind]
    assert kinds[: len(cols)] == kinds[len(cols) :][::-1]
