"""Contract tests: the SQLite and in-memory update inboxes behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from supportbot.domain.ports import UpdateInbox
from supportbot.storage import inbox
from supportbot.storage.db import Database
from supportbot.storage.inbox import InMemoryUpdateInbox, SqliteUpdateInbox


@pytest.fixture(params=["memory", "sqlite"])
async def box(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[UpdateInbox]:
    if request.param == "memory":
        yield InMemoryUpdateInbox()
        return
    db = await Database.open(tmp_path / "i.sqlite3", inbox.MIGRATIONS)
    yield SqliteUpdateInbox(db)
    await db.close()


async def test_inbox_add_returns_only_updates_not_seen_before(box: UpdateInbox) -> None:
    assert await box.add([(5, "{}"), (6, "{}")]) == [5, 6]
    await box.done(5)
    assert await box.add([(5, "{}"), (6, "{}"), (7, "{}"), (7, "{}")]) == [7]


async def test_inbox_pending_is_what_is_not_done_oldest_first(box: UpdateInbox) -> None:
    await box.add([(9, '{"b": 1}'), (3, '{"a": 1}'), (4, "{}")])
    await box.done(4)
    assert await box.pending() == [(3, '{"a": 1}'), (9, '{"b": 1}')]
    assert await box.last_id() == 9


async def test_inbox_empty_has_no_last_id(box: UpdateInbox) -> None:
    assert await box.last_id() is None
    assert await box.pending() == []


async def test_inbox_forget_done_keeps_pending_and_the_newest(box: UpdateInbox) -> None:
    await box.add([(i, "{}") for i in range(1, 11)])
    for i in range(1, 10):
        await box.done(i)
    await box.add([(11, "{}")])
    await box.done(11)
    await box.forget_done(keep=2)
    assert await box.pending() == [(10, "{}")]
    assert await box.last_id() == 11
    assert await box.add([(1, "{}")]) == [1]  # forgotten, so new again
    assert await box.add([(10, "{}"), (11, "{}")]) == []


async def test_inbox_sqlite_survives_a_reopen(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "i.sqlite3", inbox.MIGRATIONS)
    await SqliteUpdateInbox(db).add([(1, "{}"), (2, "{}")])
    await SqliteUpdateInbox(db).done(1)
    await db.close()
    db = await Database.open(tmp_path / "i.sqlite3", inbox.MIGRATIONS)
    try:
        assert await SqliteUpdateInbox(db).pending() == [(2, "{}")]
    finally:
        await db.close()


async def test_inbox_counts_resumes_per_update(box: UpdateInbox) -> None:
    await box.add([(1, "{}"), (2, "{}")])
    assert await box.resumed(1) == 1
    assert await box.resumed(1) == 2
    assert await box.resumed(2) == 1
    assert await box.resumed(99) == 0  # unknown
