"""The hybrid suggester: dense + lexical signals, fused, calibrated, decided; hot-swappable."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from supportbot.domain.models import (
    Article,
    CannedReply,
    Chunk,
    ChunkKind,
    Decision,
    Lang,
)
from supportbot.domain.ports import Embedder, EmbeddingCache
from supportbot.retrieval import fitting, persist
from supportbot.retrieval.batcher import DEFAULT_MAX_BATCH, DEFAULT_WINDOW_S, MicroBatcher
from supportbot.retrieval.chunking import article_chunks
from supportbot.retrieval.decision import (
    CROSS_LANG_MARGIN,
    LANG_PENALTY,
    SUGGEST_SPREAD,
    SuggesterParams,
    decide_with,
)
from supportbot.retrieval.embedding import CachedEmbeddings
from supportbot.retrieval.fusion import FusionModel, top_and_margin
from supportbot.retrieval.index import HNSW_THRESHOLD, FaissVectorIndex, VectorIndex
from supportbot.retrieval.lexical import Bm25Scorer, CharNgramScorer, FuzzyScorer, Tokenizer
from supportbot.retrieval.snapshot import DenseSignal as _Dense
from supportbot.retrieval.snapshot import Snapshot

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# Up to this many chunks every chunk is scored exactly (nothing can be missed).
EXACT_LIMIT = 5_000


def _signal_names(embedders: Sequence[Embedder]) -> list[str]:
    names: list[str] = []
    for embedder in embedders:
        base = str(getattr(embedder, "name", "dense"))
        name = base
        n = 2
        while name in names:
            name = f"{base}{n}"
            n += 1
        names.append(name)
    return names


@dataclass(frozen=True, slots=True)
class _Options:
    """Per-call knobs of `decide` (A/B experiments override thresholds per user)."""

    exclude: Collection[str] = ()
    answer_threshold: float | None = None
    suggest_threshold: float | None = None
    max_suggestions: int | None = None


class HybridSuggester:
    """Implements the `Suggester` port over a swappable `Snapshot`.

    Build with `await HybridSuggester.create(...)`; call `await reload(...)` with a new set of
    articles to rebuild in the background and swap atomically.
    """

    def __init__(
        self,
        embedders: Sequence[Embedder],
        cache: EmbeddingCache,
        params: SuggesterParams,
        *,
        hnsw_threshold: int = HNSW_THRESHOLD,
        batch_window_s: float = DEFAULT_WINDOW_S,
        max_batch: int = DEFAULT_MAX_BATCH,
        exact_limit: int = EXACT_LIMIT,
    ) -> None:
        self._embedders = list(embedders)
        self._names = _signal_names(self._embedders)
        self._cache = cache
        self._embeddings = CachedEmbeddings(cache)
        self.params = params
        # From this many chunks the index is approximate (HNSW), slow to build: it is stored.
        self.hnsw_threshold = hnsw_threshold
        # Up to this many chunks every chunk is scored; above, a shortlist of articles.
        self.exact_limit = exact_limit
        self._tokenizer = Tokenizer()
        self._snapshot: Snapshot | None = None
        self._reload_lock = asyncio.Lock()
        self._refit: asyncio.Task[None] | None = None
        self.fits = 0  # how many times the fusion was fitted (not loaded from the cache)
        self._batcher: MicroBatcher[tuple[str, _Options], Decision] = MicroBatcher(
            self._decide_many, window_s=batch_window_s, max_batch=max_batch
        )

    @property
    def embedded_texts(self) -> int:
        """How many texts were embedded (not served from the cache)."""
        return self._embeddings.embedded_texts

    @classmethod
    async def create(
        cls,
        articles: Sequence[Article],
        embedders: Sequence[Embedder],
        cache: EmbeddingCache,
        params: SuggesterParams | None = None,
        canned: Sequence[CannedReply] = (),
        *,
        hnsw_threshold: int = HNSW_THRESHOLD,
        exact_limit: int = EXACT_LIMIT,
    ) -> HybridSuggester:
        """Build the first snapshot and return a ready suggester."""
        suggester = cls(
            embedders,
            cache,
            params or SuggesterParams(),
            hnsw_threshold=hnsw_threshold,
            exact_limit=exact_limit,
        )
        await suggester.reload(articles, canned)
        return suggester

    @property
    def snapshot(self) -> Snapshot:
        """The snapshot queries are served from right now."""
        if self._snapshot is None:
            raise RuntimeError("HybridSuggester used before its first load")
        return self._snapshot

    # --- building -------------------------------------------------------------------------

    async def reload(
        self, articles: Sequence[Article], canned: Sequence[CannedReply] = ()
    ) -> Snapshot:
        """Rebuild from these articles, re-embedding only changed text, then swap.

        When only a few articles changed, the new index is served at once with the fusion
        fitted before, and the fusion is refitted in the background and swapped in after:
        on a large base the fit takes much longer than the index.

        A fusion fitted before on the same content, encoders, config and code is loaded
        from the cache instead, and so is a large vector index.
        """
        async with self._reload_lock:
            ordered = sorted(articles, key=lambda a: a.id)
            chunks = [c for article in ordered for c in article_chunks(article)]
            texts = [c.text for c in chunks]
            embedded = [
                await self._embeddings.embed(e, texts, query=False) for e in self._embedders
            ]
            queries = [
                await fitting.held_out_queries(self._embeddings, e, chunks)
                for e in self._embedders
            ]
            indexes = [
                await fitting.stored_index(
                    self._cache, name, e.vectors, e.digest, self.hnsw_threshold
                )
                for name, e in zip(self._names, embedded, strict=True)
            ]
            key = fitting.fit_key(
                self.params, self.exact_limit, self._names, self._embedders, ordered
            )
            stored = persist.load_fit(await self._cache.get_artifact(persist.FIT_KIND, key))
            previous = self._snapshot
            changed = fitting.changed(previous.articles, ordered) if previous is not None else None
            reuse = stored is None and (
                changed is not None and changed <= max(3, fitting.SMALL_CHANGE * len(ordered))
            )
            model = stored
            if reuse and previous is not None:
                model = previous.model
            if stored is not None:
                logger.info("Fusion for this knowledge base and config loaded from the cache")
            elif ordered and not reuse:
                logger.info(
                    "Fitting the fusion on %d articles (%d chunks)", len(ordered), len(chunks)
                )
            snapshot = await asyncio.to_thread(
                self._build,
                ordered,
                chunks,
                [e.vectors for e in embedded],
                canned,
                queries,
                model,
                indexes,
            )
            digests = [e.digest for e in embedded]
            del embedded  # the index holds the vectors from here on
            snapshot.fit_key = key
            self._snapshot = snapshot
            await fitting.store_indexes(
                self._cache, snapshot, digests, indexes, self.hnsw_threshold
            )
            if stored is None and not reuse and ordered:
                await self._store_fit(snapshot.fit_key, snapshot.model)
            if reuse and changed and ordered and (self._refit is None or self._refit.done()):
                # One refit at a time (a thread cannot be cancelled): it refits whatever is
                # served when it finishes, until that is what it fitted.
                self._refit = asyncio.create_task(self._refit_latest())
            return snapshot

    async def _refit_latest(self) -> None:
        """Fit the fusion of the served snapshot in a thread and swap it in; again while the
        snapshot changed meanwhile (more edits arrived)."""
        while True:
            snapshot = self.snapshot
            try:
                model = await asyncio.to_thread(self._fit, snapshot)
            except Exception:
                logger.exception("Refitting the fusion failed; the previous fit stays in use")
                return
            if self._snapshot is snapshot:
                self._snapshot = replace(snapshot, model=model)
                logger.info("Fusion refitted after the reload and swapped in")
                await self._store_fit(snapshot.fit_key, model)
                return

    async def settled(self) -> None:
        """Wait until a background refit (after a small reload) is done."""
        refit = self._refit
        if refit is not None:
            with suppress(asyncio.CancelledError):
                await asyncio.shield(refit)

    def _fit(self, snapshot: Snapshot) -> FusionModel:
        return fitting.fit(snapshot, top_k=self.params.top_k, fit_weights=self.params.fit_weights)

    async def _store_fit(self, key: str, model: object) -> None:
        self.fits += 1
        await fitting.store_fit(self._cache, key, model)

    def _build(
        self,
        articles: list[Article],
        chunks: list[Chunk],
        vectors: list[Vectors],
        canned: Sequence[CannedReply],
        queries: Sequence[Mapping[str, Vectors] | None] = (),
        model: FusionModel | None = None,
        indexes: Sequence[VectorIndex | None] = (),
    ) -> Snapshot:
        started = time.perf_counter()
        index_of = {a.id: i for i, a in enumerate(articles)}
        chunk_article = np.asarray([index_of[c.article_id] for c in chunks], dtype=np.int64)
        starts = np.searchsorted(chunk_article, np.arange(len(articles))).astype(np.int64)
        queries = list(queries) or [None] * len(vectors)
        built = [
            index or FaissVectorIndex(matrix, hnsw_threshold=self.hnsw_threshold)
            for index, matrix in zip(list(indexes) or [None] * len(vectors), vectors, strict=True)
        ]
        # The vectors are kept once, in the index (`index.vectors` is a view of them).
        dense = [
            _Dense(name, embedder, index.vectors, index, held)
            for name, embedder, index, held in zip(
                self._names, self._embedders, built, queries, strict=True
            )
        ]
        texts = [c.text for c in chunks]
        bm25 = Bm25Scorer(texts, self._tokenizer) if self.params.lexical and chunks else None
        char = CharNgramScorer(texts) if self.params.lexical and chunks else None
        fuzzy = None
        if self.params.fuzzy and chunks:
            rows = [i for i, c in enumerate(chunks) if c.kind is not ChunkKind.BODY]
            fuzzy = FuzzyScorer([chunks[i].text for i in rows], rows, len(chunks))
        snapshot = Snapshot(
            articles=articles,
            chunks=chunks,
            chunk_article=chunk_article,
            starts=starts,
            dense=dense,
            bm25=bm25,
            char=char,
            fuzzy=fuzzy,
            model=FusionModel.default([]),
            canned=tuple(canned),
            article_index=index_of,
            article_lang=[a.lang.value for a in articles],
            langs=frozenset(a.lang.value for a in articles),
            exact_limit=self.exact_limit,
        )
        snapshot.model = FusionModel.default(snapshot.signals)
        # A stored or previous fit serves when it was made for these signals (whatever type
        # the fitting returns: without `signals`, its cache key already pins them).
        if model is not None and getattr(model, "signals", None) in (
            None,
            tuple(snapshot.signals),
        ):
            snapshot.model = model
        elif articles:
            snapshot.model = self._fit(snapshot)
        logger.info(
            "Index built: %d articles, %d chunks, signals %s, in %.2fs",
            len(articles),
            len(chunks),
            ",".join(snapshot.signals),
            time.perf_counter() - started,
        )
        return snapshot

    # --- scoring ---------------------------------------------------------------------------

    # --- the Suggester port ------------------------------------------------------------------

    def article(self, article_id: str) -> Article | None:
        """The article currently served under that id."""
        snap = self._snapshot
        if snap is None:
            return None
        index = snap.article_index.get(article_id)
        return snap.articles[index] if index is not None else None

    def articles(self) -> Sequence[Article]:
        """Every article currently served."""
        return self._snapshot.articles if self._snapshot else []

    def canned_replies(self) -> Sequence[CannedReply]:
        """The canned operator replies currently loaded."""
        return self._snapshot.canned if self._snapshot else ()

    async def decide(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        max_suggestions: int | None = None,
    ) -> Decision:
        """Decide answer / suggest / handoff for one message.

        Messages decided at the same time (many users) are encoded together by the
        micro-batcher, in a worker thread: the event loop never waits for the models.
        """
        options = _Options(exclude, answer_threshold, suggest_threshold, max_suggestions)
        return await self._batcher.submit((text, options))

    def _decide_many(self, requests: Sequence[tuple[str, _Options]]) -> list[Decision | Exception]:
        """The batcher's work: one forward pass per encoder for every message, then each
        message decided on its own (one failing message fails alone)."""
        started = time.perf_counter()
        snap = self.snapshot  # one snapshot for the whole batch: a reload cannot tear it
        live = [i for i, (text, _) in enumerate(requests) if text.strip()]
        vectors = (
            self._embed_queries(snap, [requests[i][0] for i in live])
            if live and snap.articles
            else []
        )
        row = {i: n for n, i in enumerate(live)}
        out: list[Decision | Exception] = []
        for i, (text, options) in enumerate(requests):
            query = [v[row[i]] for v in vectors] if vectors and i in row else None
            try:
                decision, _ = decide_with(
                    snap,
                    text,
                    query,
                    started,
                    self.params,
                    self._tokenizer,
                    exclude=options.exclude,
                    answer_threshold=options.answer_threshold,
                    suggest_threshold=options.suggest_threshold,
                    max_suggestions=options.max_suggestions,
                )
                out.append(decision)
            except Exception as exc:
                logger.exception("Deciding one message failed")
                out.append(exc)
        return out

    def decide_sync(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        max_suggestions: int | None = None,
    ) -> Decision:
        """The blocking core of `decide`, for CLI tools and benchmarks."""
        started = time.perf_counter()
        snap = self.snapshot  # one reference for the whole query: a reload cannot tear it
        vectors = self._embed_queries(snap, [text]) if snap.articles and text.strip() else None
        decision, _ = decide_with(
            snap,
            text,
            None if vectors is None else [v[0] for v in vectors],
            started,
            self.params,
            self._tokenizer,
            exclude=exclude,
            answer_threshold=answer_threshold,
            suggest_threshold=suggest_threshold,
            max_suggestions=max_suggestions,
        )
        return decision

    def decide_batch_sync(self, texts: Sequence[str]) -> list[Decision]:
        """Decide many messages at once: one batched forward pass per encoder (throughput)."""
        return [decision for decision, _ in self.rank_batch_sync(texts, 0)]

    def rank_batch_sync(
        self, texts: Sequence[str], depth: int
    ) -> list[tuple[Decision, tuple[str, ...]]]:
        """Decide many messages at once, each with the ids of its `depth` best articles in
        rank order (evaluation: what was shown next to where the right article ranked)."""
        started = time.perf_counter()
        snap = self.snapshot
        if not texts:
            return []
        if not snap.articles:
            return [
                decide_with(snap, text, None, started, self.params, self._tokenizer)
                for text in texts
            ]
        vectors = self._embed_queries(snap, [t if t.strip() else "-" for t in texts])
        return [
            decide_with(
                snap,
                text,
                [v[i] for v in vectors],
                started,
                self.params,
                self._tokenizer,
                ranking_depth=depth,
            )
            for i, text in enumerate(texts)
        ]

    @staticmethod
    def _embed_queries(snap: Snapshot, texts: Sequence[str]) -> list[Vectors]:
        return [
            np.asarray(d.embedder.embed(texts, query=True), dtype=np.float32) for d in snap.dense
        ]


def weights_table(model: FusionModel) -> Mapping[str, Mapping[str, float]]:
    """The fitted weights per language, for logs and `eval` output."""
    return {lang: dict(zip(model.signals, w, strict=True)) for lang, w in model.weights.items()}


__all__ = [
    "CROSS_LANG_MARGIN",
    "LANG_PENALTY",
    "SUGGEST_SPREAD",
    "HybridSuggester",
    "Lang",
    "Snapshot",
    "SuggesterParams",
    "top_and_margin",
    "weights_table",
]
