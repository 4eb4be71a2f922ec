"""The update inbox: updates stored before they are confirmed; SQLite and in-memory."""

from __future__ import annotations

from collections.abc import Sequence

from supportbot.storage.db import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "inbox_001",
        """
        CREATE TABLE IF NOT EXISTS update_inbox (
            update_id BIGINT PRIMARY KEY,
            payload TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            resumed INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS update_inbox_pending ON update_inbox (done, update_id);
        """,
    )
]


class SqliteUpdateInbox:
    """`UpdateInbox` in SQLite: one row per update, `done` flipped once it was handled."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, updates: Sequence[tuple[int, str]]) -> list[int]:
        """Store new updates in one transaction; the ids that were not there before."""
        if not updates:
            return []
        async with self._db.transaction() as conn:
            ids = [update_id for update_id, _ in updates]
            marks = ",".join("?" * len(ids))
            async with conn.execute(
                f"SELECT update_id FROM update_inbox WHERE update_id IN ({marks})",
                ids,
            ) as cursor:
                seen = {row[0] for row in await cursor.fetchall()}
            fresh: list[int] = []
            for update_id, payload in updates:
                if update_id in seen:
                    continue
                seen.add(update_id)
                fresh.append(update_id)
                await conn.execute(
                    "INSERT INTO update_inbox (update_id, payload, done) VALUES (?, ?, 0)",
                    (update_id, payload),
                )
        return fresh

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Stored, not done, oldest first."""
        async with self._db.connection.execute(
            "SELECT update_id, payload FROM update_inbox WHERE done = 0 "
            "ORDER BY update_id LIMIT ?",
            (limit,),
        ) as cursor:
            return [(int(row[0]), str(row[1])) for row in await cursor.fetchall()]

    async def done(self, update_id: int) -> None:
        """Mark handled."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE update_inbox SET done = 1 WHERE update_id = ?", (update_id,)
            )

    async def resumed(self, update_id: int) -> int:
        """Count one more start that found it not done; how many so far."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "UPDATE update_inbox SET resumed = resumed + 1 WHERE update_id = ?", (update_id,)
            )
            async with conn.execute(
                "SELECT resumed FROM update_inbox WHERE update_id = ?", (update_id,)
            ) as cursor:
                row = await cursor.fetchone()
        return 0 if row is None else int(row[0])

    async def last_id(self) -> int | None:
        """The highest id stored."""
        async with self._db.connection.execute(
            "SELECT MAX(update_id) FROM update_inbox"
        ) as cursor:
            row = await cursor.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    async def forget_done(self, keep: int) -> None:
        """Drop old handled rows; the newest `keep` stay (and the highest id always)."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM update_inbox WHERE done = 1 AND update_id < ("
                "SELECT MIN(update_id) FROM (SELECT update_id FROM update_inbox "
                "ORDER BY update_id DESC LIMIT ?) AS newest)",
                (max(keep, 1),),
            )


class InMemoryUpdateInbox:
    """`UpdateInbox` in a dict (tests, `supportbot chat`): the same contract, no disk."""

    def __init__(self) -> None:
        self._rows: dict[int, tuple[str, bool]] = {}
        self._resumed: dict[int, int] = {}

    async def add(self, updates: Sequence[tuple[int, str]]) -> list[int]:
        """Store new updates; the ids that were not there before."""
        fresh: list[int] = []
        for update_id, payload in updates:
            if update_id not in self._rows:
                self._rows[update_id] = (payload, False)
                fresh.append(update_id)
        return fresh

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Stored, not done, oldest first."""
        rows = sorted((i, p) for i, (p, done) in self._rows.items() if not done)
        return rows[:limit]

    async def done(self, update_id: int) -> None:
        """Mark handled."""
        if update_id in self._rows:
            self._rows[update_id] = (self._rows[update_id][0], True)

    async def resumed(self, update_id: int) -> int:
        """Count one more start that found it not done; how many so far."""
        if update_id not in self._rows:
            return 0
        self._resumed[update_id] = self._resumed.get(update_id, 0) + 1
        return self._resumed[update_id]

    async def last_id(self) -> int | None:
        """The highest id stored."""
        return max(self._rows, default=None)

    async def forget_done(self, keep: int) -> None:
        """Drop old handled rows; the newest `keep` stay."""
        newest = sorted(self._rows, reverse=True)[: max(keep, 1)]
        if not newest:
            return
        floor = newest[-1]
        for update_id in [i for i, (_, done) in self._rows.items() if done and i < floor]:
            del self._rows[update_id]
            self._resumed.pop(update_id, None)
