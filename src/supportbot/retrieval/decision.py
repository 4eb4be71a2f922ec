"""The decision for one message: candidates scored, fused, ranked, and answer / suggest /
handoff chosen from the calibrated confidence, the coverage and the language."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportbot.domain.models import ChunkKind, Decision, DecisionKind, Suggestion
from supportbot.domain.text import detect_lang
from supportbot.retrieval import scoring
from supportbot.retrieval.calibration import ANSWER_COVERAGE, coverage
from supportbot.retrieval.fusion import ANY_LANG
from supportbot.retrieval.lexical import Tokenizer
from supportbot.retrieval.scoring import ShortlistScores
from supportbot.retrieval.snapshot import Snapshot

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float64]

# A suggestion list keeps articles whose fused score is within this distance of the best
# (on the fitted scale where 1.0 separates a typical right article from the best wrong one).
SUGGEST_SPREAD = 0.45
# Another language's article must beat a same-language one by this much to rank above it.
LANG_PENALTY = 0.5
# An article in another language than the message is suggested (never answered) when it
# leads the runner-up by this much on the fused scale, whatever the confidence: only the
# multilingual encoder can see it, so the fused score of a right one stays low.
CROSS_LANG_MARGIN = 0.05


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


def decide_with(
    snap: Snapshot,
    text: str,
    query_vectors: list[Vectors] | None,
    started: float,
    params: SuggesterParams,
    tokenizer: Tokenizer,
    *,
    exclude: Collection[str] = (),
    answer_threshold: float | None = None,
    suggest_threshold: float | None = None,
    max_suggestions: int | None = None,
    ranking_depth: int = 0,
) -> tuple[Decision, tuple[str, ...]]:
    """The decision for one message, and the ids of its `ranking_depth` best articles."""
    answer_at = params.answer_threshold if answer_threshold is None else answer_threshold
    suggest_at = params.suggest_threshold if suggest_threshold is None else suggest_threshold
    limit = params.max_suggestions if max_suggestions is None else max_suggestions
    lang = detect_lang(text)
    if query_vectors is None or not snap.articles or not text.strip():
        return Decision(DecisionKind.HANDOFF, 0.0, (), lang, _ms(started)), ()
    candidates = _candidates(snap, text, query_vectors, params.top_k)
    chunk_scores = _chunk_scores_for(snap, text, query_vectors, candidates, params.top_k)
    raw = scoring.per_article(snap, chunk_scores)[:, candidates]
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
                    n: round(float(v), 4) for n, v in zip(snap.signals, raw[:, pos], strict=True)
                },
                matched=_matched_text(snap, int(cand[pos]), chunk_scores),
            )
        )
    top_index = int(cand[order[0]])
    cross = snap.article_lang[top_index] != lang.value
    if confidence >= answer_at and not cross and _covers(snap, text, top_index, tokenizer):
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
    logger.debug("decision signals for %r: %s", text, [(s.article_id, s.why) for s in suggestions])
    return decision, ranking


def _covers(snap: Snapshot, text: str, article: int, tokenizer: Tokenizer) -> bool:
    """Whether most of the message's words are the article's own (title and questions):
    a direct answer needs that; a message that only shares the topic gets suggestions."""
    start = int(snap.starts[article])
    end = int(snap.starts[article + 1]) if article + 1 < len(snap.starts) else len(snap.chunks)
    own = [
        word
        for chunk in snap.chunks[start:end]
        if chunk.kind is not ChunkKind.BODY
        for word in tokenizer(chunk.text)
    ]
    best = max(coverage(tokenizer(v), own) for v in scoring.variants(snap, text))
    return best >= ANSWER_COVERAGE


def _candidates(
    snap: Snapshot, text: str, query_vectors: Sequence[Vectors], top_k: int
) -> list[int]:
    """Articles worth scoring: all of a small base; a large base's shortlist (nearest
    chunks by each dense index and BM25's best, fused by rank)."""
    if scoring.is_exact(snap):
        return list(range(len(snap.articles)))
    return scoring.shortlist(snap, text, query_vectors, top_k)


def _chunk_scores_for(
    snap: Snapshot,
    text: str,
    query_vectors: Sequence[Vectors],
    candidates: list[int],
    top_k: int,
) -> Matrix | ShortlistScores:
    if len(candidates) == len(snap.articles):
        return scoring.chunk_scores(snap, text, query_vectors, top_k)
    query = candidates.query if isinstance(candidates, scoring.Candidates) else None
    return scoring.shortlist_scores(snap, text, query_vectors, candidates, query)


def _matched_text(snap: Snapshot, article: int, chunk_scores: Matrix | ShortlistScores) -> str:
    if isinstance(chunk_scores, ShortlistScores):
        start, scores = chunk_scores.of_article(article)
    else:
        start = int(snap.starts[article])
        end = int(snap.starts[article + 1]) if article + 1 < len(snap.starts) else len(snap.chunks)
        scores = chunk_scores[:, start:end]
    weights = snap.model.weights_for(ANY_LANG)
    normalised = snap.model.normalise(scores, ANY_LANG)
    best = int(np.argmax(np.tensordot(weights, np.clip(normalised, -1, 2), axes=(0, 0))))
    return snap.chunks[start + best].text[:120]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
