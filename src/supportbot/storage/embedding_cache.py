"""Embedding cache by content hash, so a restart or a reload re-embeds only what changed.

Beside the vectors it keeps what was computed from them (the fitted fusion, a vector
index), each under a key of everything it was computed from, a few recent ones per kind.
"""

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
    ),
    (
        "embedding_cache_002_artifacts",
        """
        CREATE TABLE IF NOT EXISTS artifact_cache (
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            value BLOB NOT NULL,
            used_at REAL NOT NULL,
            PRIMARY KEY (kind, key)
        );
        """,
    ),
]

# Artifacts kept per kind: the served one plus a few others (switching between knowledge
# bases or configs, e.g. the eval sets, does not recompute), without growing forever.
KEEP_ARTIFACTS = 4

# A use counter rather than a clock: two uses in the same instant still have an order.
_NEXT_USE = "(SELECT COALESCE(MAX(used_at), 0) + 1 FROM artifact_cache)"

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

    async def get_artifact(self, kind: str, key: str) -> bytes | None:
        """The artifact stored under (kind, key), or None."""
        async with self._db.connection.execute(
            "SELECT value FROM artifact_cache WHERE kind = ? AND key = ?", (kind, key)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            return None
        async with self._db.transaction() as connection:
            await connection.execute(
                f"UPDATE artifact_cache SET used_at = {_NEXT_USE} WHERE kind = ? AND key = ?",
                (kind, key),
            )
        return bytes(row[0])

    async def put_artifact(self, kind: str, key: str, value: bytes) -> None:
        """Store an artifact, dropping the least recently used of its kind beyond a few."""
        async with self._db.transaction() as connection:
            await connection.execute(
                "INSERT OR REPLACE INTO artifact_cache (kind, key, value, used_at) "
                f"VALUES (?, ?, ?, {_NEXT_USE})",
                (kind, key, value),
            )
            await connection.execute(
                "DELETE FROM artifact_cache WHERE kind = ? AND key NOT IN ("
                "SELECT key FROM artifact_cache WHERE kind = ? "
                "ORDER BY used_at DESC LIMIT ?)",
                (kind, kind, KEEP_ARTIFACTS),
            )


class InMemoryEmbeddingCache:
    """`EmbeddingCache` twin kept in a dict (tests, one-off CLI runs)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], bytes] = {}
        self._artifacts: dict[tuple[str, str], bytes] = {}  # in insertion = use order

    async def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Return the cached vectors for those hashes that are present."""
        return {h: self._data[(model_key, h)] for h in hashes if (model_key, h) in self._data}

    async def put_many(self, model_key: str, items: Sequence[tuple[str, bytes]]) -> None:
        """Store vectors."""
        for h, v in items:
            self._data.setdefault((model_key, h), v)

    async def get_artifact(self, kind: str, key: str) -> bytes | None:
        """The artifact stored under (kind, key), or None."""
        value = self._artifacts.pop((kind, key), None)
        if value is not None:
            self._artifacts[(kind, key)] = value  # most recently used last
        return value

    async def put_artifact(self, kind: str, key: str, value: bytes) -> None:
        """Store an artifact, dropping the least recently used of its kind beyond a few."""
        self._artifacts.pop((kind, key), None)
        self._artifacts[(kind, key)] = value
        mine = [k for k in self._artifacts if k[0] == kind]
        for old in mine[: max(0, len(mine) - KEEP_ARTIFACTS)]:
            del self._artifacts[old]
