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
    DecisionKind,
    Lang,
    Suggestion,
)
from supportbot.domain.ports import Embedder, EmbeddingCache
from supportbot.domain.text import detect_lang
from supportbot.retrieval import persist, scoring
from supportbot.retrieval.batcher import DEFAULT_MAX_BATCH, DEFAULT_WINDOW_S, MicroBatcher
from supportbot.retrieval.calibration import ANSWER_COVERAGE, coverage
from supportbot.retrieval.chunking import article_chunks
from supportbot.retrieval.embedding import CachedEmbeddings
from supportbot.retrieval.fusion import ANY_LANG, FusionModel, HeldOut, fit_fusion, top_and_margin
from supportbot.retrieval.index import HNSW_THRESHOLD, FaissVectorIndex, VectorIndex
from supportbot.retrieval.lexical import Bm25Scorer, CharNgramScorer, FuzzyScorer, Tokenizer
from supportbot.retrieval.scoring import ShortlistScores
from supportbot.retrieval.snapshot import DenseSignal as _Dense
from supportbot.retrieval.snapshot import Snapshot

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

MAX_HELD_OUT = 1000
HELD_OUT_BATCH = 32
# A suggestion list keeps articles whose fused score is within this distance of the best
# (on the fitted scale where 1.0 separates a typical right article from the best wrong one).
SUGGEST_SPREAD = 0.45
# Another language's article must beat a same-language one by this much to rank above it.
LANG_PENALTY = 0.5
# An article in another language than the message is suggested (never answered) when it
# leads the runner-up by this much on the fused scale, whatever the confidence: only the
# multilingual encoder can see it, so the fused score of a right one stays low.
CROSS_LANG_MARGIN = 0.05
# Up to this many chunks every chunk is scored exactly (nothing can be missed).
EXACT_LIMIT = 5_000


@dataclass(frozen=True, slots=True)
class SuggesterParams:
    """The decision knobs (from config; A/B experiments override them per call)."""

    answer_threshold: float = 0.85
    suggest_threshold: float = 0.20
    max_suggestions: int = 3
    top_k: int = 40
    lexical: bool = True
    fuzzy: bool = True
    fit_weights: bool = True


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
            queries = [await self._held_out_queries(e, chunks) for e in self._embedders]
            indexes = [
                await self._stored_index(name, e.vectors, e.digest)
                for name, e in zip(self._names, embedded, strict=True)
            ]
            key = self._fit_key(ordered)
            stored = persist.load_fit(await self._cache.get_artifact(persist.FIT_KIND, key))
            previous = self._snapshot
            changed = _changed(previous.articles, ordered) if previous is not None else None
            reuse = stored is None and (
                changed is not None and changed <= max(3, SMALL_CHANGE * len(ordered))
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
            await self._store_indexes(snapshot, digests, indexes)
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
        held = self._held_out(snapshot)
        return fit_fusion(held, snapshot.signals, fit_weights=self.params.fit_weights)

    def _fit_key(self, articles: Sequence[Article]) -> str:
        """Everything a fit depends on: the articles, the encoders, the knobs (and, in
        `persist.fit_key`, the fitting code)."""
        return persist.fit_key(
            [
                repr(self.params),
                f"exact_limit={self.exact_limit}",
                *(f"{name}={e.key}" for name, e in zip(self._names, self._embedders, strict=True)),
                *(repr(a) for a in articles),
            ]
        )

    async def _store_fit(self, key: str, model: object) -> None:
        self.fits += 1
        data = await asyncio.to_thread(persist.dump_fit, model)
        await self._cache.put_artifact(persist.FIT_KIND, key, data)

    def _index_key(self, vectors: Vectors, digest: str) -> str:
        structure = FaissVectorIndex.key(
            vectors.shape[1], vectors.shape[0], hnsw_threshold=self.hnsw_threshold
        )
        return f"{structure}|{digest}"

    async def _stored_index(self, name: str, vectors: Vectors, digest: str) -> VectorIndex | None:
        """A large index saved before for exactly these vectors (a small one is rebuilt:
        faster than reading it)."""
        if len(vectors) < self.hnsw_threshold:
            return None
        data = await self._cache.get_artifact(
            persist.index_kind(name), self._index_key(vectors, digest)
        )
        if data is None:
            return None
        logger.info("Vector index %s (%d vectors) loaded from the cache", name, len(vectors))
        return await asyncio.to_thread(FaissVectorIndex.from_bytes, data)

    async def _store_indexes(
        self, snapshot: Snapshot, digests: Sequence[str], loaded: Sequence[VectorIndex | None]
    ) -> None:
        for dense, digest, before in zip(snapshot.dense, digests, loaded, strict=True):
            if before is not None or dense.index.size < self.hnsw_threshold:
                continue
            data = await asyncio.to_thread(dense.index.to_bytes)
            key = self._index_key(dense.vectors, digest)
            await self._cache.put_artifact(persist.index_kind(dense.name), key, data)

    async def _held_out_queries(
        self, embedder: Embedder, chunks: Sequence[Chunk]
    ) -> Mapping[str, Vectors] | None:
        """Questions and titles embedded as queries, for an asymmetric encoder (query and
        passage prefixes differ): fitting uses them, and the cache spares re-embedding
        them at every start and reload. None for a symmetric encoder (the passage vectors
        serve)."""
        if getattr(embedder, "symmetric", False):
            return None
        texts = sorted({c.text for c in chunks if c.kind is not ChunkKind.BODY})
        vectors = (await self._embeddings.embed(embedder, texts, query=True)).vectors
        return dict(zip(texts, vectors, strict=True))

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

    def _chunk_scores(self, snap: Snapshot, text: str, query_vectors: Sequence[Vectors]) -> Matrix:
        """Raw score of every chunk for every signal: shape (signals, chunks)."""
        scores = self._chunk_scores_many(snap, [text], [q[None, :] for q in query_vectors])
        return scores[:, 0, :]

    def _chunk_scores_many(
        self, snap: Snapshot, texts: Sequence[str], query_vectors: Sequence[Vectors]
    ) -> Matrix:
        """Raw scores of many messages at once: shape (signals, messages, chunks).

        On a large base each message's shortlist is scored and the other chunks are -1,
        as in a decision (so the fit sees what decisions see).
        """
        if scoring.is_exact(snap):
            return scoring.all_chunk_scores(snap, texts, query_vectors)
        return scoring.shortlisted_chunk_scores(  # type: ignore[return-value]
            snap, texts, query_vectors, self.params.top_k
        )

    def _per_article(self, snap: Snapshot, chunk_scores: Matrix | ShortlistScores) -> Matrix:
        """Pool chunk scores per article: shape (signals, articles) (see `scoring.pool`)."""
        if isinstance(chunk_scores, ShortlistScores):
            return chunk_scores.per_article(len(snap.articles))
        return scoring.pool(chunk_scores, snap.starts, snap.chunk_article)

    def _held_out(self, snap: Snapshot) -> HeldOut:
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
            d.vectors[candidates]
            if getattr(d.embedder, "symmetric", False)
            else _queries_of(d, texts)
            for d in snap.dense
        ]
        rows = np.asarray(candidates)
        for start in range(0, len(candidates), HELD_OUT_BATCH):
            part = slice(start, start + HELD_OUT_BATCH)
            scores = self._chunk_scores_many(snap, texts[part], [v[part] for v in query_vectors])
            scores[:, np.arange(scores.shape[1]), rows[part]] = -np.inf
            inscope[:, part, :] = self._per_article(snap, scores)
        inscope = np.where(np.isfinite(inscope), inscope, -1.0)
        gold = snap.chunk_article[candidates]
        langs = [snap.chunks[i].lang.value for i in candidates]
        article_lang = np.asarray(snap.article_lang)
        allowed = np.asarray([article_lang == lang for lang in langs])
        return HeldOut(inscope=inscope, gold=gold, lang=langs, allowed=allowed)

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
                decision, _ = self._decide_with(
                    snap,
                    text,
                    query,
                    started,
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
        decision, _ = self._decide_with(
            snap,
            text,
            None if vectors is None else [v[0] for v in vectors],
            started,
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
            return [self._decide_with(snap, text, None, started) for text in texts]
        vectors = self._embed_queries(snap, [t if t.strip() else "-" for t in texts])
        return [
            self._decide_with(snap, text, [v[i] for v in vectors], started, ranking_depth=depth)
            for i, text in enumerate(texts)
        ]

    @staticmethod
    def _embed_queries(snap: Snapshot, texts: Sequence[str]) -> list[Vectors]:
        return [
            np.asarray(d.embedder.embed(texts, query=True), dtype=np.float32) for d in snap.dense
        ]

    def _decide_with(
        self,
        snap: Snapshot,
        text: str,
        query_vectors: list[Vectors] | None,
        started: float,
        *,
        exclude: Collection[str] = (),
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        max_suggestions: int | None = None,
        ranking_depth: int = 0,
    ) -> tuple[Decision, tuple[str, ...]]:
        """The decision for one message, and the ids of its `ranking_depth` best articles."""
        answer_at = self.params.answer_threshold if answer_threshold is None else answer_threshold
        suggest_at = (
            self.params.suggest_threshold if suggest_threshold is None else suggest_threshold
        )
        limit = self.params.max_suggestions if max_suggestions is None else max_suggestions
        lang = detect_lang(text)
        if query_vectors is None or not snap.articles or not text.strip():
            return Decision(DecisionKind.HANDOFF, 0.0, (), lang, _ms(started)), ()
        candidates = self._candidates(snap, text, query_vectors)
        chunk_scores = self._chunk_scores_for(snap, text, query_vectors, candidates)
        raw = self._per_article(snap, chunk_scores)[:, candidates]
        fused = snap.model.fuse(raw, lang.value)
        if lang.value in snap.langs and len(snap.langs) > 1:
            other = np.asarray([snap.article_lang[i] != lang.value for i in candidates])
            fused = fused - LANG_PENALTY * other
        keep = np.asarray([snap.articles[i].id not in exclude for i in candidates], dtype=bool)
        cand = np.asarray(candidates)[keep]
        fused = fused[keep]
        raw = raw[:, keep]
        if len(cand) == 0:
            return Decision(DecisionKind.HANDOFF, 0.0, (), lang, _ms(started)), ()
        order = np.argsort(-fused, kind="stable")
        top_fused = float(fused[order[0]])
        runner_up = float(fused[order[1]]) if len(order) > 1 else top_fused - 1.0
        confidence = float(snap.model.confidence(top_fused, top_fused - runner_up))
        ranking = tuple(snap.articles[int(cand[pos])].id for pos in order[:ranking_depth])
        suggestions = []
        for rank, pos in enumerate(order[:limit]):
            score = float(fused[pos])
            if rank > 0 and score < top_fused - SUGGEST_SPREAD:
                break
            best_other = runner_up if rank == 0 else top_fused
            article = snap.articles[int(cand[pos])]
            suggestions.append(
                Suggestion(
                    article_id=article.id,
                    title=article.title,
                    score=round(score, 4),
                    confidence=round(float(snap.model.confidence(score, score - best_other)), 4),
                    signals={
                        n: round(float(v), 4)
                        for n, v in zip(snap.signals, raw[:, pos], strict=True)
                    },
                    matched=self._matched_text(snap, int(cand[pos]), chunk_scores),
                )
            )
        top_index = int(cand[order[0]])
        cross = snap.article_lang[top_index] != lang.value
        if confidence >= answer_at and not cross and self._covers(snap, text, top_index):
            kind = DecisionKind.ANSWER
        elif confidence >= suggest_at or (cross and top_fused - runner_up >= CROSS_LANG_MARGIN):
            kind = DecisionKind.SUGGEST
        else:
            kind = DecisionKind.HANDOFF
        decision = Decision(kind, round(confidence, 4), tuple(suggestions), lang, _ms(started))
        logger.info(
            "decision=%s confidence=%.3f lang=%s top=%s",
            kind.value,
            confidence,
            lang.value,
            [(s.article_id, s.score, s.confidence) for s in suggestions],
        )
        logger.debug(
            "decision signals for %r: %s", text, [(s.article_id, s.why) for s in suggestions]
        )
        return decision, ranking

    def _covers(self, snap: Snapshot, text: str, article: int) -> bool:
        """Whether most of the message's words are the article's own (title and questions):
        a direct answer needs that; a message that only shares the topic gets suggestions."""
        start = int(snap.starts[article])
        end = int(snap.starts[article + 1]) if article + 1 < len(snap.starts) else len(snap.chunks)
        own = [
            word
            for chunk in snap.chunks[start:end]
            if chunk.kind is not ChunkKind.BODY
            for word in self._tokenizer(chunk.text)
        ]
        best = max(coverage(self._tokenizer(v), own) for v in scoring.variants(snap, text))
        return best >= ANSWER_COVERAGE

    def _candidates(
        self, snap: Snapshot, text: str, query_vectors: Sequence[Vectors]
    ) -> list[int]:
        """Articles worth scoring: all of a small base; a large base's shortlist (nearest
        chunks by each dense index and BM25's best, fused by rank)."""
        if scoring.is_exact(snap):
            return list(range(len(snap.articles)))
        return scoring.shortlist(snap, text, query_vectors, self.params.top_k)

    def _chunk_scores_for(
        self, snap: Snapshot, text: str, query_vectors: Sequence[Vectors], candidates: list[int]
    ) -> Matrix | ShortlistScores:
        if len(candidates) == len(snap.articles):
            return self._chunk_scores(snap, text, query_vectors)
        query = candidates.query if isinstance(candidates, scoring.Candidates) else None
        return scoring.shortlist_scores(snap, text, query_vectors, candidates, query)

    def _matched_text(
        self, snap: Snapshot, article: int, chunk_scores: Matrix | ShortlistScores
    ) -> str:
        if isinstance(chunk_scores, ShortlistScores):
            start, scores = chunk_scores.of_article(article)
        else:
            start = int(snap.starts[article])
            end = (
                int(snap.starts[article + 1])
                if article + 1 < len(snap.starts)
                else len(snap.chunks)
            )
            scores = chunk_scores[:, start:end]
        weights = snap.model.weights_for(ANY_LANG)
        normalised = snap.model.normalise(scores, ANY_LANG)
        best = int(np.argmax(np.tensordot(weights, np.clip(normalised, -1, 2), axes=(0, 0))))
        return snap.chunks[start + best].text[:120]


def _queries_of(dense: _Dense, texts: Sequence[str]) -> Vectors:
    """Held-out questions as query vectors: from the cache-backed map, else embedded now."""
    held = dense.held_out_queries
    if held is not None and all(text in held for text in texts):
        return np.vstack([held[text] for text in texts])
    return np.asarray(dense.embedder.embed(texts, query=True), dtype=np.float32)


# A reload changing at most this share of the articles (or a handful) keeps the previous
# fusion until the background refit is done.
SMALL_CHANGE = 0.1


def _changed(before: Sequence[Article], after: Sequence[Article]) -> float:
    """How many articles a reload adds, removes or edits."""
    return len(set(before) ^ set(after)) / 2


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def weights_table(model: FusionModel) -> Mapping[str, Mapping[str, float]]:
    """The fitted weights per language, for logs and `eval` output."""
    return {lang: dict(zip(model.signals, w, strict=True)) for lang, w in model.weights.items()}


__all__ = [
    "HybridSuggester",
    "Lang",
    "Snapshot",
    "SuggesterParams",
    "top_and_margin",
    "weights_table",
]
