"""Raw signal scores of chunks and their pooling per article: exact on a small knowledge
base, on a shortlist of candidate articles on a large one.

The shortlist comes from the inverted and vector indexes (FAISS nearest chunks per encoder,
BM25 over bm25s's inverted index), fused by reciprocal rank; only the chunks of those
articles are scored by every signal (dense, BM25, character n-grams in a sparse matrix,
fuzzy), so a decision costs the same at 100k chunks as at 10k.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportbot.domain.models import Lang
from supportbot.domain.text import detect_lang, detranslit, has_latin_only
from supportbot.retrieval.lexical import FuzzyScorer
from supportbot.retrieval.snapshot import Snapshot

Vectors = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]
Rows = npt.NDArray[np.int64]

# Up to this many chunks (`Snapshot.exact_limit`) every chunk is scored exactly: cheaper
# than being clever, and nothing can be missed.
# Reciprocal-rank fusion constant (the usual 60: ranks 1 and 2 weigh nearly alike).
RRF_K = 60
BEST_WEIGHT = 0.6


def is_exact(snap: Snapshot) -> bool:
    """Whether every chunk of this snapshot is scored for every message."""
    return len(snap.chunks) <= snap.exact_limit


class Candidates(list[int]):
    """Candidate articles of one message, with what finding them computed (its readings
    and their BM25 scores), so scoring them does not compute it again."""

    def __init__(self, articles: Sequence[int], query: Query | None = None) -> None:
        super().__init__(articles)
        self.query = query


@dataclass(frozen=True, slots=True)
class Query:
    """A message's readings (see `variants`) and their BM25 scores over every chunk."""

    readings: list[str]
    bm25: list[npt.NDArray[np.float32]]

    @classmethod
    def of(cls, snap: Snapshot, text: str) -> Query:
        """The readings of `text` and their BM25 scores (inverted index: cost ~ postings)."""
        readings = variants(snap, text)
        bm25 = [snap.bm25.scores(r) for r in readings] if snap.bm25 is not None else []
        return cls(readings, bm25)


# One message is read several ways per decision (shortlist, scoring, the fit's batches).
_detranslit = functools.lru_cache(maxsize=4096)(detranslit)


def variants(snap: Snapshot, text: str) -> list[str]:
    """The message, plus its Cyrillic reading when it looks like Russian typed in Latin:
    when the reading has more words the knowledge base knows than the Latin original."""
    if not has_latin_only(text) or "ru" not in snap.langs:
        return [text]
    cyrillic = _detranslit(text)
    if snap.bm25 is None or "en" not in snap.langs or detect_lang(text) is Lang.RU:
        return [text, cyrillic]
    if snap.bm25.coverage(cyrillic) > snap.bm25.coverage(text):
        return [text, cyrillic]
    return [text]


def all_chunk_scores(
    snap: Snapshot, texts: Sequence[str], query_vectors: Sequence[Vectors]
) -> Matrix:
    """Raw scores of every chunk for many messages: shape (signals, messages, chunks).

    In bulk where it pays (fitting scores every question of the base): one matrix product
    per encoder, and the fuzzy scorer on every core.
    """
    rows: list[npt.NDArray[np.float32]] = [
        np.asarray(q, dtype=np.float32) @ d.vectors.T
        for d, q in zip(snap.dense, query_vectors, strict=True)
    ]
    groups = [variants(snap, text) for text in texts]
    flat = [v for group in groups for v in group]
    owner = np.repeat(np.arange(len(texts)), [len(group) for group in groups])
    for scorer in (snap.bm25, snap.char, snap.fuzzy):
        if scorer is None:
            continue
        if isinstance(scorer, FuzzyScorer):
            each = scorer.scores_many(flat)
        else:
            each = np.vstack([scorer.scores(v) for v in flat])
        best = np.full((len(texts), each.shape[1]), -np.inf, dtype=np.float32)
        np.maximum.at(best, owner, each)
        rows.append(best)
    if not rows:
        return np.zeros((0, len(texts), len(snap.chunks)))
    return np.stack(rows).astype(np.float64)


def pool(chunk_scores: Matrix, starts: Rows, chunk_owner: Rows) -> Matrix:
    """Pool chunk scores per article: 0.6 x the best chunk + 0.4 x the second best.

    An article matching a message in two places is a better bet than one matching in one,
    without the bias towards long articles that a sum or a log-sum-exp would add.
    `starts` are where each article's chunks begin, `chunk_owner` the article (0-based, in
    the same numbering) of each chunk.
    """
    best = np.maximum.reduceat(chunk_scores, starts, axis=-1)
    rest = np.where(chunk_scores >= best[..., chunk_owner], -np.inf, chunk_scores)
    second = np.maximum.reduceat(rest, starts, axis=-1)
    second = np.where(np.isfinite(second), second, best)
    pooled: Matrix = BEST_WEIGHT * best + (1 - BEST_WEIGHT) * second
    return pooled


@dataclass(frozen=True, slots=True)
class ShortlistScores:
    """Raw scores of the chunks of a few candidate articles: (signals, their chunks)."""

    articles: Rows  # candidate article indices, ascending
    rows: Rows  # their chunks, ascending
    starts: Rows  # where each candidate's chunks begin within `rows`
    values: Matrix

    def per_article(self, n_articles: int) -> Matrix:
        """Pooled per article, shape (signals, all articles); -1 outside the shortlist."""
        owner = np.repeat(
            np.arange(len(self.articles)), np.diff(np.append(self.starts, len(self.rows)))
        )
        full = np.full((self.values.shape[0], n_articles), -1.0)
        if len(self.rows):
            full[:, self.articles] = pool(self.values, self.starts, owner)
        return full

    def of_article(self, article: int) -> tuple[int, Matrix]:
        """The chunk row where the article's scored chunks begin, and their scores."""
        pos = int(np.searchsorted(self.articles, article))
        start = int(self.starts[pos])
        end = int(self.starts[pos + 1]) if pos + 1 < len(self.starts) else len(self.rows)
        return int(self.rows[start]), self.values[:, start:end]


def shortlist(
    snap: Snapshot, text: str, query_vectors: Sequence[Vectors], top_k: int
) -> Candidates:
    """The `top_k` articles most worth scoring: nearest chunks by every dense index and
    best BM25 chunks of every reading of the message, fused by reciprocal rank."""
    query = Query.of(snap, text)
    votes: dict[int, float] = {}

    def vote(chunk_rows: Sequence[int] | Rows) -> None:
        seen: set[int] = set()
        for rank, row in enumerate(chunk_rows):
            article = int(snap.chunk_article[row])
            if row >= 0 and article not in seen:
                seen.add(article)
                votes[article] = votes.get(article, 0.0) + 1.0 / (RRF_K + rank + 1)

    for dense, vector in zip(snap.dense, query_vectors, strict=True):
        vote(dense.index.search(vector, top_k)[0])
    for scores in query.bm25:
        hits = np.flatnonzero(scores > 0)
        if len(hits) > top_k:
            hits = hits[np.argpartition(-scores[hits], top_k - 1)[:top_k]]
        vote(hits[np.argsort(-scores[hits], kind="stable")])
    if not votes:
        return Candidates(range(min(len(snap.articles), top_k)), query)
    ranked = sorted(votes, key=lambda a: (-votes[a], a))[:top_k]
    return Candidates(sorted(ranked), query)


def shortlist_scores(
    snap: Snapshot,
    text: str,
    query_vectors: Sequence[Vectors],
    candidates: Sequence[int],
    query: Query | None = None,
) -> ShortlistScores:
    """Every signal's raw score of every chunk of the candidate articles (and of no other
    chunk); `query` is the message's `Query` when the caller has it already."""
    query = query or Query.of(snap, text)
    articles = np.asarray(candidates, dtype=np.int64)
    ends = np.append(snap.starts[1:], len(snap.chunks))
    lengths = ends[articles] - snap.starts[articles]
    rows = (
        np.concatenate([np.arange(snap.starts[a], ends[a]) for a in articles]).astype(np.int64)
        if len(articles)
        else np.zeros(0, dtype=np.int64)
    )
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    signals: list[npt.NDArray[np.float32]] = [
        d.vectors[rows] @ np.asarray(q, dtype=np.float32)
        for d, q in zip(snap.dense, query_vectors, strict=True)
    ]
    readings = query.readings
    if snap.bm25 is not None:
        signals.append(np.max([scores[rows] for scores in query.bm25], axis=0))
    if snap.char is not None:
        signals.append(np.max([snap.char.scores_rows(v, rows) for v in readings], axis=0))
    if snap.fuzzy is not None:
        signals.append(np.max([snap.fuzzy.scores_rows(v, rows) for v in readings], axis=0))
    values = np.stack(signals).astype(np.float64) if signals else np.zeros((0, len(rows)))
    return ShortlistScores(articles, rows, starts, values)


def shortlisted_chunk_scores(
    snap: Snapshot, texts: Sequence[str], query_vectors: Sequence[Vectors], top_k: int
) -> npt.NDArray[np.float32]:
    """`all_chunk_scores` as a large base computes it: each message's shortlist scored,
    every other chunk at -1 (what a decision sees), shape (signals, messages, chunks)."""
    n_signals = len(snap.signals)
    out = np.full((n_signals, len(texts), len(snap.chunks)), -1.0, dtype=np.float32)
    for i, text in enumerate(texts):
        vectors = [np.asarray(q[i], dtype=np.float32) for q in query_vectors]
        candidates = shortlist(snap, text, vectors, top_k)
        found = shortlist_scores(snap, text, vectors, candidates, candidates.query)
        if found.values.size:
            # A chunk off the shortlist scores no better than the weakest one on it: a fill
            # far below every real score (-1) would stretch the scales fitted on these rows.
            out[:, i, :] = found.values.min(axis=1)[:, None]
        out[:, i, found.rows] = found.values
    return out


def chunk_scores(
    snap: Snapshot, text: str, query_vectors: Sequence[Vectors], top_k: int
) -> Matrix:
    """Raw score of every chunk for every signal: shape (signals, chunks)."""
    scores = chunk_scores_many(snap, [text], [q[None, :] for q in query_vectors], top_k)
    return scores[:, 0, :]


def chunk_scores_many(
    snap: Snapshot, texts: Sequence[str], query_vectors: Sequence[Vectors], top_k: int
) -> Matrix:
    """Raw scores of many messages at once: shape (signals, messages, chunks).

    On a large base each message's shortlist is scored and the other chunks are -1,
    as in a decision (so the fit sees what decisions see).
    """
    if is_exact(snap):
        return all_chunk_scores(snap, texts, query_vectors)
    return shortlisted_chunk_scores(  # type: ignore[return-value]
        snap, texts, query_vectors, top_k
    )


def per_article(snap: Snapshot, chunk_scores: Matrix | ShortlistScores) -> Matrix:
    """Pool chunk scores per article: shape (signals, articles) (see `pool`)."""
    if isinstance(chunk_scores, ShortlistScores):
        return chunk_scores.per_article(len(snap.articles))
    return pool(chunk_scores, snap.starts, snap.chunk_article)
