"""Embedding through the cache: only text the cache lacks goes through a model, with progress."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from supportbot.domain.ports import Embedder, EmbeddingCache

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

PROGRESS_BATCH = 256


def content_hash(prefix: str, text: str) -> str:
    """The cache key of one text under one model."""
    return hashlib.sha256(f"{prefix}\u0000{text}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Embedded:
    """Vectors of some texts, and a digest of what they are (model + every text)."""

    vectors: Vectors
    digest: str


class CachedEmbeddings:
    """Embeds texts with an `Embedder`, serving what it can from an `EmbeddingCache`."""

    def __init__(self, cache: EmbeddingCache) -> None:
        self.cache = cache
        self.embedded_texts = 0  # how many texts were embedded (not served from the cache)

    async def embed(self, embedder: Embedder, texts: Sequence[str], *, query: bool) -> Embedded:
        """Vectors of `texts`, embedding only those the cache does not hold yet."""
        key = f"{embedder.key}|query" if query else embedder.key
        hashes = [content_hash(key, text) for text in texts]
        digest = hashlib.sha256("\n".join([key, *hashes]).encode()).hexdigest()
        size = embedder.dim * 4  # float32
        # Vectors of another size were made by other weights at the same model path.
        cached = {
            h: v for h, v in (await self.cache.get_many(key, hashes)).items() if len(v) == size
        }
        missing = sorted(
            {h: text for h, text in zip(hashes, texts, strict=True) if h not in cached}.items()
        )
        if missing:
            logger.info(
                "Embedding %d %s with %s (%d cached)",
                len(missing),
                "queries" if query else "passages",
                embedder.key,
                len(cached),
            )
            fresh = await asyncio.to_thread(
                embed_with_progress, embedder, [text for _, text in missing], query=query
            )
            self.embedded_texts += len(missing)
            items = [
                (h, np.asarray(v, dtype=np.float32).tobytes())
                for (h, _), v in zip(missing, fresh, strict=True)
            ]
            await self.cache.put_many(key, items)
            cached.update(items)
        if not texts:
            return Embedded(np.zeros((0, embedder.dim), dtype=np.float32), digest)
        matrix = np.empty((len(hashes), embedder.dim), dtype=np.float32)
        for row, h in enumerate(hashes):
            matrix[row] = np.frombuffer(cached[h], dtype=np.float32)
        return Embedded(matrix, digest)


def embed_with_progress(embedder: Embedder, texts: list[str], *, query: bool = False) -> Vectors:
    """Embed texts in batches, with a progress bar when a person watches a terminal."""
    show = len(texts) > PROGRESS_BATCH and sys.stderr.isatty()
    parts = []
    with tqdm(
        total=len(texts),
        desc=f"embedding {len(texts)} {'queries' if query else 'passages'} ({embedder.key})",
        unit="text",
        disable=not show,
    ) as bar:
        for start in range(0, len(texts), PROGRESS_BATCH):
            batch = texts[start : start + PROGRESS_BATCH]
            parts.append(np.asarray(embedder.embed(batch, query=query), dtype=np.float32))
            bar.update(len(batch))
    return np.vstack(parts)
