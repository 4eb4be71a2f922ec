"""Conversation state per user, feedback per article, blocked users: SQLite and in-memory."""

from __future__ import annotations

import functools
from datetime import datetime

from pydantic import TypeAdapter

from supportbot.conversation.state import ConversationState, Feedback
from supportbot.storage.codec import dt
from supportbot.storage.db import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "conversations_001",
        """
        CREATE TABLE IF NOT EXISTS conversation_state (
            user_id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            phase TEXT NOT NULL,
            state TEXT NOT NULL,
            updated_at TEXT
        );
        CREATE TABLE IF NOT EXISTS article_feedback (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL,
            user_id INTEGER NOT NULL,
            article_id TEXT NOT NULL,
            helpful INTEGER NOT NULL,
            ts TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS article_feedback_conversation
            ON article_feedback (conversation_id);
        CREATE INDEX IF NOT EXISTS article_feedback_article ON article_feedback (article_id);
        CREATE TABLE IF NOT EXISTS blocked_users (
            user_id INTEGER PRIMARY KEY,
            since TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))
        );
        """,
    )
]


@functools.cache
def _states() -> TypeAdapter[ConversationState]:
    return TypeAdapter(ConversationState)


def encode_state(state: ConversationState) -> str:
    """The whole state as JSON (one column, so it can grow without migrations)."""
    return _states().dump_json(state).decode()


def decode_state(raw: str) -> ConversationState:
    """The inverse of `encode_state`; fields added later take their defaults, fields
    removed since are ignored."""
    return _states().validate_json(raw)


class SqliteConversationRepository:
    """`ConversationRepository` in the shared SQLite database: survives restarts.

    Writes go through `Database.transaction`, so they never interleave with another
    repository's transaction on the shared connection.
    """

    def __init__(self, db: Database) -> None:
        self._db = db

    async def _write(self, sql: str, params: tuple[object, ...]) -> None:
        async with self._db.transaction() as connection:
            await connection.execute(sql, params)

    async def load(self, user_id: int) -> ConversationState | None:
        """The user's state, or None for a user never seen."""
        async with self._db.connection.execute(
            "SELECT state FROM conversation_state WHERE user_id = ?", (user_id,)
        ) as cursor:
            row = await cursor.fetchone()
        return decode_state(row[0]) if row else None

    async def save(self, state: ConversationState) -> None:
        """Store the user's state (replacing the previous one)."""
        await self._write(
            "INSERT INTO conversation_state (user_id, conversation_id, phase, state, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET "
            "conversation_id = excluded.conversation_id, phase = excluded.phase, "
            "state = excluded.state, updated_at = excluded.updated_at",
            (
                state.user_id,
                state.conversation_id,
                state.phase.value,
                encode_state(state),
                dt(state.updated_at),
            ),
        )

    async def add_feedback(self, feedback: Feedback) -> None:
        """Record a "This helped" / "Didn't help" press."""
        await self._write(
            "INSERT INTO article_feedback (conversation_id, user_id, article_id, helpful, ts) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                feedback.conversation_id,
                feedback.user_id,
                feedback.article_id,
                int(feedback.helpful),
                feedback.ts.isoformat(),
            ),
        )

    async def feedback(self, conversation_id: str) -> list[Feedback]:
        """The feedback given in one conversation, oldest first."""
        async with self._db.connection.execute(
            "SELECT conversation_id, user_id, article_id, helpful, ts FROM article_feedback "
            "WHERE conversation_id = ? ORDER BY id",
            (conversation_id,),
        ) as cursor:
            rows = await cursor.fetchall()
        return [
            Feedback(r[0], int(r[1]), r[2], bool(r[3]), datetime.fromisoformat(r[4])) for r in rows
        ]

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Mark (or unmark) a user who blocked the bot."""
        if blocked:
            sql = "INSERT OR IGNORE INTO blocked_users (user_id) VALUES (?)"
        else:
            sql = "DELETE FROM blocked_users WHERE user_id = ?"
        await self._write(sql, (user_id,))

    async def is_blocked(self, user_id: int) -> bool:
        """True while the user has the bot blocked."""
        async with self._db.connection.execute(
            "SELECT 1 FROM blocked_users WHERE user_id = ?", (user_id,)
        ) as cursor:
            return await cursor.fetchone() is not None


class InMemoryConversationRepository:
    """`ConversationRepository` twin in dicts (tests, the terminal chat)."""

    def __init__(self) -> None:
        self._states: dict[int, ConversationState] = {}
        self._feedback: list[Feedback] = []
        self._blocked: set[int] = set()

    async def load(self, user_id: int) -> ConversationState | None:
        """The user's state, or None for a user never seen."""
        return self._states.get(user_id)

    async def save(self, state: ConversationState) -> None:
        """Store the user's state."""
        self._states[state.user_id] = state

    async def add_feedback(self, feedback: Feedback) -> None:
        """Record a feedback press."""
        self._feedback.append(feedback)

    async def feedback(self, conversation_id: str) -> list[Feedback]:
        """The feedback given in one conversation, oldest first."""
        return [f for f in self._feedback if f.conversation_id == conversation_id]

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Mark (or unmark) a user who blocked the bot."""
        if blocked:
            self._blocked.add(user_id)
        else:
            self._blocked.discard(user_id)

    async def is_blocked(self, user_id: int) -> bool:
        """True while the user has the bot blocked."""
        return user_id in self._blocked
