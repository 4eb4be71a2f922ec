"""Fitting the fusion and keeping what is slow to make: held-out questions, the fit, and
the fit and large vector indexes stored in the cache under keys of all they depend on."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from supportbot.domain.models import Article, Chunk, ChunkKind
from supportbot.domain.ports import Embedder, EmbeddingCache
from supportbot.retrieval import persist, scoring
from supportbot.retrieval.embedding import CachedEmbeddings
from supportbot.retrieval.fusion import FusionModel, HeldOut, fit_fusion
from supportbot.retrieval.index import FaissVectorIndex, VectorIndex
from supportbot.retrieval.snapshot import DenseSignal, Snapshot

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

MAX_HELD_OUT = 1000
HELD_OUT_BATCH = 32
# A reload changing at most this share of the articles (or a handful) keeps the previous
# fusion until the background refit is done.
SMALL_CHANGE = 0.1


async def store_fit(cache: EmbeddingCache, key: str, model: object) -> None:
    """Store a fitted fusion under its key."""
    data = await asyncio.to_thread(persist.dump_fit, model)
    await cache.put_artifact(persist.FIT_KIND, key, data)


def fit(snapshot: Snapshot, *, top_k: int, fit_weights: bool) -> FusionModel:
    """Fit the fusion of a snapshot on its held-out questions."""
    held = held_out(snapshot, top_k)
    return fit_fusion(held, snapshot.signals, fit_weights=fit_weights)


def fit_key(
    params: object,
    exact_limit: int,
    names: Sequence[str],
    embedders: Sequence[Embedder],
    articles: Sequence[Article],
) -> str:
    """Everything a fit depends on: the articles, the encoders, the knobs (and, in
    `persist.fit_key`, the fitting code)."""
    return persist.fit_key(
        [
            repr(params),
            f"exact_limit={exact_limit}",
            *(f"{name}={e.key}" for name, e in zip(names, embedders, strict=True)),
            *(repr(a) for a in articles),
        ]
    )


def index_key(vectors: Vectors, digest: str, hnsw_threshold: int) -> str:
    """The cache key of a stored vector index: its structure and its vectors."""
    structure = FaissVectorIndex.key(
        vectors.shape[1], vectors.shape[0], hnsw_threshold=hnsw_threshold
    )
    return f"{structure}|{digest}"


async def stored_index(
    cache: EmbeddingCache, name: str, vectors: Vectors, digest: str, hnsw_threshold: int
) -> VectorIndex | None:
    """A large index saved before for exactly these vectors (a small one is rebuilt:
    faster than reading it)."""
    if len(vectors) < hnsw_threshold:
        return None
    data = await cache.get_artifact(
        persist.index_kind(name), index_key(vectors, digest, hnsw_threshold)
    )
    if data is None:
        return None
    logger.info("Vector index %s (%d vectors) loaded from the cache", name, len(vectors))
    return await asyncio.to_thread(FaissVectorIndex.from_bytes, data)


async def store_indexes(
    cache: EmbeddingCache,
    snapshot: Snapshot,
    digests: Sequence[str],
    loaded: Sequence[VectorIndex | None],
    hnsw_threshold: int,
) -> None:
    """Store the large indexes just built (not those loaded from the cache)."""
    for dense, digest, before in zip(snapshot.dense, digests, loaded, strict=True):
        if before is not None or dense.index.size < hnsw_threshold:
            continue
        data = await asyncio.to_thread(dense.index.to_bytes)
        key = index_key(dense.vectors, digest, hnsw_threshold)
        await cache.put_artifact(persist.index_kind(dense.name), key, data)


async def held_out_queries(
    embeddings: CachedEmbeddings, embedder: Embedder, chunks: Sequence[Chunk]
) -> Mapping[str, Vectors] | None:
    """Questions and titles embedded as queries, for an asymmetric encoder (query and
    passage prefixes differ): fitting uses them, and the cache spares re-embedding
    them at every start and reload. None for a symmetric encoder (the passage vectors
    serve)."""
    if embedder.symmetric:
        return None
    texts = sorted({c.text for c in chunks if c.kind is not ChunkKind.BODY})
    vectors = (await embeddings.embed(embedder, texts, query=True)).vectors
    return dict(zip(texts, vectors, strict=True))


def held_out(snap: Snapshot, top_k: int) -> HeldOut:
    """Raw scores of the articles' own questions (or titles) with that chunk left out."""
    candidates = [i for i, c in enumerate(snap.chunks) if c.kind is ChunkKind.QUESTION]
    per_article_questions = (
        np.bincount(snap.chunk_article[candidates], minlength=len(snap.articles))
        if candidates
        else np.zeros(len(snap.articles), dtype=np.int64)
    )
    if len(candidates) < 20:
        # Few questions: titles stand in as queries (their body still identifies them).
        candidates += [i for i, c in enumerate(snap.chunks) if c.kind is ChunkKind.TITLE]
    # An article whose only searchable text is the held-out chunk cannot be found by it.
    sizes = np.diff(np.append(snap.starts, len(snap.chunks)))
    candidates = [i for i in candidates if sizes[snap.chunk_article[i]] > 1]
    del per_article_questions
    rng = np.random.default_rng(13)
    if len(candidates) > MAX_HELD_OUT:
        candidates = sorted(rng.choice(candidates, MAX_HELD_OUT, replace=False).tolist())
    n_signals = len(snap.signals)
    inscope = np.zeros((n_signals, len(candidates), len(snap.articles)))
    if not candidates:
        return HeldOut(inscope, np.zeros(0, np.int64), [], np.ones((0, 0), bool))
    texts = [snap.chunks[i].text for i in candidates]
    # A symmetric encoder embeds a question as a query exactly as it did as a passage:
    # reuse those (cached) vectors instead of embedding every question again.
    query_vectors = [
        d.vectors[candidates] if d.embedder.symmetric else queries_of(d, texts) for d in snap.dense
    ]
    rows = np.asarray(candidates)
    for start in range(0, len(candidates), HELD_OUT_BATCH):
        part = slice(start, start + HELD_OUT_BATCH)
        scores = scoring.chunk_scores_many(
            snap, texts[part], [v[part] for v in query_vectors], top_k
        )
        scores[:, np.arange(scores.shape[1]), rows[part]] = -np.inf
        inscope[:, part, :] = scoring.per_article(snap, scores)
    inscope = np.where(np.isfinite(inscope), inscope, -1.0)
    gold = snap.chunk_article[candidates]
    langs = [snap.chunks[i].lang.value for i in candidates]
    article_lang = np.asarray(snap.article_lang)
    allowed = np.asarray([article_lang == lang for lang in langs])
    return HeldOut(inscope=inscope, gold=gold, lang=langs, allowed=allowed)


def queries_of(dense: DenseSignal, texts: Sequence[str]) -> Vectors:
    """Held-out questions as query vectors: from the cache-backed map, else embedded now."""
    held = dense.held_out_queries
    if held is not None and all(text in held for text in texts):
        return np.vstack([held[text] for text in texts])
    return np.asarray(dense.embedder.embed(texts, query=True), dtype=np.float32)


def changed(before: Sequence[Article], after: Sequence[Article]) -> float:
    """How many articles a reload adds, removes or edits."""
    return len(set(before) ^ set(after)) / 2
