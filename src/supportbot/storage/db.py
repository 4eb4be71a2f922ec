"""One aiosqlite connection per process, with forward-only migrations collected from modules."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from supportbot.domain.errors import StorageError

logger = logging.getLogger(__name__)

Migration = tuple[str, str]
"""(unique id, SQL script). Ids are never reused; a script runs once per database."""


class Database:
    """An open SQLite database in WAL mode with the given migrations applied.

    Repositories share one `Database`; SQLite serialises writers, and aiosqlite runs every
    statement on its own thread so the event loop never blocks on disk.
    """

    def __init__(self, connection: aiosqlite.Connection, path: Path | str) -> None:
        self.connection = connection
        self.path = path
        # Every repository shares this connection: a commit by one would also commit
        # another's half-done work, so writers take turns for whole transactions.
        self._write_lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self, *, immediate: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """One whole write transaction: committed on success, rolled back on any error.

        `immediate=True` takes SQLite's write lock at the start (for read-then-write logic
        such as allocating ids), so another process cannot slip in between.
        """
        async with self._write_lock:
            if immediate:
                await self.connection.execute("BEGIN IMMEDIATE")
            try:
                yield self.connection
                await self.connection.commit()
            except BaseException:
                await self.connection.rollback()
                raise

    @classmethod
    async def open(cls, path: Path | str, migrations: Sequence[Migration]) -> Database:
        """Open (creating if needed) the database at `path` and apply pending migrations."""
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            connection = await aiosqlite.connect(str(path))
        except (OSError, sqlite3.Error) as error:
            raise StorageError(f"Cannot open the database {path}: {error}") from error
        try:
            connection.row_factory = aiosqlite.Row
            await connection.execute("PRAGMA journal_mode=WAL")
            await connection.execute("PRAGMA synchronous=NORMAL")
            await connection.execute("PRAGMA foreign_keys=ON")
            await connection.execute("PRAGMA busy_timeout=5000")
            db = cls(connection, path)
            await db._migrate(migrations)
        except sqlite3.Error as error:
            # Close it, or its worker thread keeps the process alive.
            await connection.close()
            raise StorageError(
                f"Cannot use the database {path}: {error} "
                "(storage.database must name a supportbot SQLite file or a new path)"
            ) from error
        return db

    async def _migrate(self, migrations: Sequence[Migration]) -> None:
        await self.connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at TEXT "
            "NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        async with self.connection.execute("SELECT id FROM schema_migrations") as cursor:
            applied = {row[0] for row in await cursor.fetchall()}
        for migration_id, script in migrations:
            if migration_id in applied:
                continue
            logger.info("Applying migration %s", migration_id)
            await self.connection.executescript(
                f"BEGIN;\n{script}\nINSERT INTO schema_migrations (id) VALUES ('{migration_id}');"
                "\nCOMMIT;"
            )
        await self.connection.commit()

    async def close(self) -> None:
        """Close the connection."""
        await self.connection.close()
