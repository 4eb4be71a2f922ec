"""Contract tests for the embedding cache: SQLite and in-memory twins behave the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from supportbot.domain.ports import EmbeddingCache
from supportbot.storage.db import Database
from supportbot.storage.embedding_cache import (
    KEEP_ARTIFACTS,
    MIGRATIONS,
    InMemoryEmbeddingCache,
    SqliteEmbeddingCache,
)


@pytest.fixture(params=["memory", "sqlite"])
async def cache(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EmbeddingCache]:
    if request.param == "memory":
        yield InMemoryEmbeddingCache()
        return
    db = await Database.open(tmp_path / "cache.sqlite3", MIGRATIONS)
    yield SqliteEmbeddingCache(db)
    await db.close()


async def test_embedding_cache_returns_what_was_stored(cache: EmbeddingCache) -> None:
    vector = np.arange(4, dtype=np.float32).tobytes()
    await cache.put_many("model-a", [("h1", vector)])
    assert await cache.get_many("model-a", ["h1", "h2"]) == {"h1": vector}


async def test_embedding_cache_keeps_models_apart(cache: EmbeddingCache) -> None:
    await cache.put_many("model-a", [("h1", b"\x00\x00\x80?")])
    assert await cache.get_many("model-b", ["h1"]) == {}


async def test_embedding_cache_handles_many_keys(cache: EmbeddingCache) -> None:
    items = [(f"h{i}", np.float32(i).tobytes()) for i in range(1200)]
    await cache.put_many("m", items)
    found = await cache.get_many("m", [h for h, _ in items])
    assert len(found) == 1200


async def test_sqlite_cache_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path, MIGRATIONS)
    await SqliteEmbeddingCache(db).put_many("m", [("h", b"1234")])
    await db.close()
    db = await Database.open(path, MIGRATIONS)
    assert await SqliteEmbeddingCache(db).get_many("m", ["h"]) == {"h": b"1234"}
    await db.close()


async def test_artifact_cache_returns_what_was_stored_under_its_key(cache: EmbeddingCache) -> None:
    await cache.put_artifact("fusion", "k1", b"fit one")
    assert await cache.get_artifact("fusion", "k1") == b"fit one"
    assert await cache.get_artifact("fusion", "k2") is None
    assert await cache.get_artifact("index:minilm", "k1") is None


async def test_artifact_cache_keeps_the_most_recently_used_few(cache: EmbeddingCache) -> None:
    for i in range(KEEP_ARTIFACTS):
        await cache.put_artifact("fusion", f"k{i}", b"x")
    assert await cache.get_artifact("fusion", "k0") == b"x"  # used again: kept
    await cache.put_artifact("fusion", "new", b"y")
    assert await cache.get_artifact("fusion", "k0") == b"x"
    assert await cache.get_artifact("fusion", "k1") is None  # the least recently used
    assert await cache.get_artifact("fusion", "new") == b"y"
    await cache.put_artifact("index:use", "other", b"z")  # other kinds count apart
    assert await cache.get_artifact("fusion", "new") == b"y"
