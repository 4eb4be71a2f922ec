"""Embedding cache by content hash, so a restart or a reload re-embeds only what changed."""

from __future__ import annotations

from collections.abc import Sequence

from supportbot.storage.db import Database, Migration

MIGRATIONS: list[Migration] = [
    (
        "embedding_cache_001",
        """
        CREATE TABLE IF NOT EXISTS embedding_cache (
            model_key TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            vector BLOB NOT NULL,
            PRIMARY KEY (model_key, content_hash)
        ) WITHOUT ROWID;
        """,
    )
]

_BATCH = 500  # stays under SQLite's host-parameter limit


class SqliteEmbeddingCache:
    """`EmbeddingCache` in the shared SQLite database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Return the cached vectors for those hashes that are present."""
        found: dict[str, bytes] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), _BATCH):
            part = unique[start : start + _BATCH]
            marks = ",".join("?" * len(part))
            async with self._db.connection.execute(
                f"SELECT content_hash, vector FROM embedding_cache "
                f"WHERE model_key = ? AND content_hash IN ({marks})",
                (model_key, *part),
            ) as cursor:
                for row in await cursor.fetchall():
                    found[row[0]] = bytes(row[1])
        return found

    async def put_many(self, model_key: str, items: Sequence[tuple[str, bytes]]) -> None:
        """Store vectors; an existing entry is kept (same hash means same text)."""
        if not items:
            return
        async with self._db.transaction() as connection:
            await connection.executemany(
                "INSERT OR IGNORE INTO embedding_cache (model_key, content_hash, vector) "
                "VALUES (?, ?, ?)",
                [(model_key, h, v) for h, v in items],
            )


class InMemoryEmbeddingCache:
    """`EmbeddingCache` twin kept in a dict (tests, one-off CLI runs)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], bytes] = {}

    async def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Return the cached vectors for those hashes that are present."""
        return {h: self._data[(model_key, h)] for h in hashes if (model_key, h) in self._data}

    async def put_many(self, model_key: str, items: Sequence[tuple[str, bytes]]) -> None:
        """Store vectors."""
        for h, v in items:
            self._data.setdefault((model_key, h), v)
