"""Contract tests: the SQLite and in-memory conversation repositories behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from supportbot.conversation.ports import ConversationRepository
from supportbot.conversation.state import ConversationState, Feedback, GuidePlace, Phase
from supportbot.domain.handoff import Author, HandoffState, TranscriptEntry
from supportbot.domain.models import Lang
from supportbot.storage import conversations
from supportbot.storage.conversations import (
    InMemoryConversationRepository,
    SqliteConversationRepository,
)
from supportbot.storage.db import Database

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
async def repo(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[ConversationRepository]:
    if request.param == "memory":
        yield InMemoryConversationRepository()
        return
    db = await Database.open(tmp_path / "c.sqlite3", conversations.MIGRATIONS)
    yield SqliteConversationRepository(db)
    await db.close()


def _state() -> ConversationState:
    return ConversationState(
        user_id=7,
        lang=Lang.RU,
        lang_explicit=True,
        number=3,
        phase=Phase.GUIDE,
        subject="не могу войти",
        shown=("a", "b"),
        rejected=("b",),
        offered=("a",),
        guide=GuidePlace("a", 2),
        last_question="не могу войти",
        last_question_at=NOW,
        handoff_state=HandoffState.QUEUED,
        ticket_id=12,
        transcript=(TranscriptEntry(NOW, Author.USER, "не могу войти", None, None),),
        opened_at=NOW,
        updated_at=NOW,
    )


async def test_conversations_storage_round_trips_the_state(repo: ConversationRepository) -> None:
    assert await repo.load(7) is None
    await repo.save(_state())
    assert await repo.load(7) == _state()


async def test_conversations_storage_replaces_the_state(repo: ConversationRepository) -> None:
    await repo.save(_state())
    await repo.save(ConversationState(7, Lang.EN))
    assert await repo.load(7) == ConversationState(7, Lang.EN)


async def test_conversations_storage_keeps_feedback_per_conversation(
    repo: ConversationRepository,
) -> None:
    first = Feedback("7-1", 7, "a", True, NOW)
    second = Feedback("7-1", 7, "b", False, NOW)
    await repo.add_feedback(first)
    await repo.add_feedback(Feedback("8-1", 8, "a", True, NOW))
    await repo.add_feedback(second)
    assert await repo.feedback("7-1") == [first, second]
    assert await repo.feedback("9-9") == []


async def test_conversations_storage_marks_blocked_users(repo: ConversationRepository) -> None:
    assert not await repo.is_blocked(7)
    await repo.set_blocked(7, True)
    await repo.set_blocked(7, True)
    assert await repo.is_blocked(7)
    assert not await repo.is_blocked(8)
    await repo.set_blocked(7, False)
    assert not await repo.is_blocked(7)


async def test_conversations_storage_sqlite_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    db = await Database.open(path, conversations.MIGRATIONS)
    await SqliteConversationRepository(db).save(_state())
    await db.close()
    db = await Database.open(path, conversations.MIGRATIONS)
    try:
        assert await SqliteConversationRepository(db).load(7) == _state()
    finally:
        await db.close()


def test_conversations_storage_reads_states_stored_by_earlier_versions() -> None:
    from supportbot.storage.conversations import decode_state, encode_state

    # As the hand-written codec wrote it: compact JSON, ISO times with +00:00, a guide.
    raw = (
        '{"user_id":5,"lang":"ru","lang_explicit":true,"number":2,"phase":"guide",'
        '"subject":"пароль","shown":["a"],"rejected":[],"offered":["a"],'
        '"guide":{"article_id":"a","step":2},"last_question":"пароль",'
        '"last_question_at":"2026-03-02T10:00:00+00:00","handoff_state":null,'
        '"ticket_id":null,"transcript":[],"opened_at":null,"updated_at":null,'
        '"person_offered":false}'
    )
    state = decode_state(raw)
    assert state.guide == GuidePlace("a", 2)
    assert (state.phase, state.lang, state.last_question_at) == (Phase.GUIDE, Lang.RU, NOW)
    assert decode_state(encode_state(state)) == state
