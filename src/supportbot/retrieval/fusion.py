"""Fusion of retrieval signals into one ranking and one calibrated confidence.

Every signal's raw score is first put on a common scale fitted on the knowledge base itself:
0 is what the best *wrong* article typically scores, 1 what the right article typically
scores. The fused score is a weighted mean on that scale, with weights chosen per language
by coordinate ascent on held-out queries (the articles' own `questions`, each left out of the
index in turn). A signal that is weak in a language (an English model on Russian text) gets a
small weight there instead of dragging the strong ones down.

Every language weighs the character n-gram signal at least `TYPO_FLOOR` of its strongest
signal: editors' questions have no typos, so a fit on them alone cannot see what n-grams are
for ("my crad keeps geting declinded").

Confidence, the probability that the top article is the right one, is fitted per help
center in `calibration` (see there); nothing in it is fitted on labelled evaluation sets.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from supportbot.retrieval.calibration import auroc, fit_logistic, prior_weights

logger = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]

# Priors used when a knowledge base has too few questions to fit anything.
DEFAULT_SCALES: dict[str, tuple[float, float]] = {
    "minilm": (0.35, 0.75),
    "st": (0.35, 0.75),
    "use": (0.35, 0.75),
    "bm25": (0.10, 0.55),
    "char": (0.15, 0.55),
    "fuzzy": (0.45, 0.85),
    "hashing": (0.20, 0.70),
}
DEFAULT_CALIBRATION = (5.0, 4.0, -3.0)
# The character n-gram signal carries typos: at least this share of the strongest weight.
TYPO_SIGNAL = "char"
TYPO_FLOOR = 0.2
WEIGHT_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
MIN_SPREAD = 0.02
ANY_LANG = "*"


@dataclass(frozen=True, slots=True)
class FusionModel:
    """Fitted fusion parameters for one knowledge base."""

    signals: tuple[str, ...]
    scales: Mapping[str, tuple[tuple[float, ...], tuple[float, ...]]]  # lang -> (lo, hi)
    weights: Mapping[str, tuple[float, ...]]
    calibration: tuple[float, float, float] = DEFAULT_CALIBRATION
    fitted_on: int = 0
    report: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def default(cls, signals: Sequence[str]) -> FusionModel:
        """Priors: equal weights, typical scales, a generic calibration."""
        scales = [DEFAULT_SCALES.get(name, (0.3, 0.7)) for name in signals]
        return cls(
            signals=tuple(signals),
            scales={ANY_LANG: (tuple(s[0] for s in scales), tuple(s[1] for s in scales))},
            weights={ANY_LANG: tuple(1.0 for _ in signals)},
        )

    def weights_for(self, lang: str) -> npt.NDArray[np.float64]:
        """The weight vector for a language (falls back to the all-language fit)."""
        return np.asarray(self.weights.get(lang, self.weights[ANY_LANG]), dtype=np.float64)

    def normalise(self, raw: Matrix, lang: str = ANY_LANG) -> Matrix:
        """Put raw scores (signals x ...) on the fitted 0 = wrong / 1 = right scale.

        Scales are per language: an English-only model rates all Russian texts alike, so
        its "right" and "wrong" levels differ between the languages.
        """
        lo_values, hi_values = self.scales.get(lang, self.scales[ANY_LANG])
        shape = (-1,) + (1,) * (raw.ndim - 1)
        lo = np.asarray(lo_values, dtype=np.float64).reshape(shape)
        hi = np.asarray(hi_values, dtype=np.float64).reshape(shape)
        return (raw - lo) / (hi - lo)

    def fuse(self, raw: Matrix, lang: str) -> Matrix:
        """Fused score of raw signal scores (signals x ...) for a message in `lang`."""
        return combine(self.normalise(raw, lang), self.weights_for(lang))

    def confidence(self, top: Matrix | float, margin: Matrix | float) -> Matrix:
        """Probability that the top article is right, from its fused score and margin."""
        a, b, c = self.calibration
        return _sigmoid(a * np.asarray(top) + b * np.asarray(margin) + c)


def combine(normalised: Matrix, weights: npt.NDArray[np.float64]) -> Matrix:
    """Weighted mean over the first axis; signals are clipped so one outlier cannot dominate."""
    total = float(weights.sum()) or 1.0
    clipped = np.clip(normalised, -1.0, 2.0)
    fused: Matrix = np.tensordot(weights, clipped, axes=(0, 0)) / total
    return fused


def _sigmoid(x: Matrix) -> Matrix:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def top_and_margin(fused: Matrix) -> tuple[Matrix, Matrix, npt.NDArray[np.int64]]:
    """Per row: the best score, its margin over the runner-up, and the best column."""
    best = np.argmax(fused, axis=1)
    rows = np.arange(fused.shape[0])
    top = fused[rows, best]
    if fused.shape[1] < 2:
        return top, top.copy(), best
    second = np.partition(fused, -2, axis=1)[:, -2]
    return top, top - second, best


def _reciprocal_ranks(fused: Matrix, gold: npt.NDArray[np.int64]) -> Matrix:
    gold_scores = fused[np.arange(len(gold)), gold]
    better = (fused > gold_scores[:, None]).sum(axis=1)
    ranks: Matrix = 1.0 / (1.0 + better)
    return ranks


@dataclass(frozen=True, slots=True)
class HeldOut:
    """Raw signal scores of held-out queries against every article.

    `inscope` has shape (signals, queries, articles) with the query's own chunk left out;
    `gold` the right article per query; `lang` the query language; `allowed` masks the
    articles each query may match (same language when the base has it).
    """

    inscope: Matrix
    gold: npt.NDArray[np.int64]
    lang: Sequence[str]
    allowed: npt.NDArray[np.bool_]


def _fit_scales(held: HeldOut, signals: Sequence[str]) -> tuple[list[float], list[float]]:
    """Per signal: lo = what a typical wrong article scores, hi = what the right one scores.

    Medians over all wrong articles (not only the best wrong one) keep the spread honest:
    for a weak signal the best wrong article scores almost like the right one, and a scale
    built on that gap would blow its noise up instead of damping it.
    """
    lo: list[float] = []
    hi: list[float] = []
    rows = np.arange(len(held.gold))
    for i, name in enumerate(signals):
        scores = np.where(held.allowed, held.inscope[i], np.nan)
        positive = scores[rows, held.gold]
        wrong = scores.copy()
        wrong[rows, held.gold] = np.nan
        with warnings.catch_warnings():
            # A question whose language has a single article has no wrong one: NaN, skipped.
            warnings.simplefilter("ignore", RuntimeWarning)
            typical_wrong = np.nanmedian(wrong, axis=1)
        finite = np.isfinite(typical_wrong) & np.isfinite(positive)
        if finite.sum() < 5:
            default = DEFAULT_SCALES.get(name, (0.3, 0.7))
            lo.append(default[0])
            hi.append(default[1])
            continue
        low = float(np.median(typical_wrong[finite]))
        high = float(np.median(positive[finite]))
        lo.append(low)
        hi.append(max(high, low + MIN_SPREAD))
    return lo, hi


def _objective(
    normalised: Matrix,
    negatives: Matrix,
    gold: npt.NDArray[np.int64],
    weights: npt.NDArray[np.float64],
) -> float:
    if weights.sum() <= 0:
        return -1.0
    fused = combine(normalised, weights)
    rr = _reciprocal_ranks(fused, gold)
    top, _, _ = top_and_margin(fused)
    neg_top, _, _ = top_and_margin(combine(negatives, weights))
    separation = auroc(top, neg_top)
    # Recall@1 and MRR rank the articles; the AUROC term keeps the fused score useful as
    # evidence that *any* article fits. A faint pull towards equal weights breaks ties.
    prior = -0.002 * float(np.abs(weights / weights.max() - 1.0).sum())
    return float((rr == 1.0).mean() + rr.mean() + 0.5 * separation) + prior


def _fit_weights(normalised: Matrix, negatives: Matrix, gold: npt.NDArray[np.int64]) -> Matrix:
    n_signals = normalised.shape[0]
    weights = np.ones(n_signals, dtype=np.float64)
    best = _objective(normalised, negatives, gold, weights)
    for _ in range(3):
        improved = False
        for i in range(n_signals):
            for value in WEIGHT_GRID:
                if value == weights[i]:
                    continue
                trial = weights.copy()
                trial[i] = value
                score = _objective(normalised, negatives, gold, trial)
                if score > best + 1e-9:
                    best, weights, improved = score, trial, True
        if not improved:
            break
    return weights


BAGS = 8
# A signal kept by only a resample or two (relative weight below this) is dropped.
MIN_WEIGHT = 0.1


def _bagged_weights(normalised: Matrix, negatives: Matrix, gold: npt.NDArray[np.int64]) -> Matrix:
    """Weights averaged over fits on bootstrap resamples of the held-out queries.

    A knowledge base has a few hundred questions at most; a single fit on them picks
    all-or-nothing weights that ride on a handful of queries. Averaging fits on resamples
    keeps a signal that helps often, at a weight that says how often. A signal almost
    every resample dropped is dropped too: its scale was fitted on a spread too narrow to
    trust (an English model on Russian text), so even a small weight adds more noise than
    evidence (measured: 2 points of recall@1 on a held-out Russian set).
    """
    rng = np.random.default_rng(7)
    n = len(gold)
    total = np.zeros(normalised.shape[0])
    for _ in range(BAGS):
        sample = rng.integers(0, n, n)
        weights = _fit_weights(normalised[:, sample], negatives[:, sample], gold[sample])
        total += weights / max(float(weights.max()), 1e-9)
    averaged = total / BAGS
    return np.where(averaged < MIN_WEIGHT * averaged.max(), 0.0, averaged)


def fit_fusion(held: HeldOut, signals: Sequence[str], *, fit_weights: bool = True) -> FusionModel:
    """Fit per-language scales and weights, then the confidence calibration, on held-out
    queries (each also left out with its article, as a stand-in for unanswerable ones)."""
    n_queries = len(held.gold)
    if n_queries < 10:
        logger.info("Only %d held-out questions: using default fusion parameters", n_queries)
        return FusionModel.default(signals)
    langs = np.asarray(held.lang)
    masked = np.where(held.allowed[None], held.inscope, -np.inf)
    scales: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {}
    weights: dict[str, tuple[float, ...]] = {}
    groups: list[tuple[str, npt.NDArray[np.bool_]]] = [(ANY_LANG, np.ones(n_queries, bool))]
    present = sorted(set(held.lang))
    if len(present) > 1:  # with one language its own fit is the all-language fit
        groups += [(lang, langs == lang) for lang in present]
    for key, mask in groups:
        if key != ANY_LANG and mask.sum() < 40:
            continue
        part = HeldOut(
            held.inscope[:, mask], held.gold[mask], list(langs[mask]), held.allowed[mask]
        )
        lo, hi = _fit_scales(part, signals)
        scales[key] = (tuple(lo), tuple(hi))
        model = FusionModel(signals=tuple(signals), scales={ANY_LANG: scales[key]}, weights={})
        normalised, gold = _shortlist(_normalised(model, masked[:, mask]), held.gold[mask])
        negatives = _leave_article_out(normalised, gold)
        if fit_weights:
            chosen = _bagged_weights(normalised, negatives, gold)
            if TYPO_SIGNAL in signals:
                typo = list(signals).index(TYPO_SIGNAL)
                chosen[typo] = max(chosen[typo], TYPO_FLOOR * float(chosen.max()))
        else:
            chosen = np.ones(len(signals))
        weights[key] = tuple(float(v) for v in chosen)
    if len(present) == 1:
        scales[present[0]], weights[present[0]] = scales[ANY_LANG], weights[ANY_LANG]

    fitted = FusionModel(
        signals=tuple(signals), scales=scales, weights=weights, fitted_on=n_queries
    )
    # Calibration: in-scope tops labelled by correctness, leave-article-out tops as wrong.
    features = np.zeros((2 * n_queries, 2))
    labels = np.zeros(2 * n_queries)
    for lang in present:
        rows = np.flatnonzero(langs == lang)
        normalised, gold = _shortlist(_normalised(fitted, masked[:, rows], lang), held.gold[rows])
        negatives = _leave_article_out(normalised, gold)
        w = fitted.weights_for(lang)
        for j, matrix in enumerate((normalised, negatives)):
            top, margin, best = top_and_margin(combine(matrix, w))
            features[2 * rows + j] = np.column_stack([top, margin])
            labels[2 * rows + j] = (best == gold) if j == 0 else 0.0
    left_out = np.zeros(2 * n_queries, dtype=bool)
    left_out[1::2] = True
    a, b, c = fit_logistic(features, labels, prior_weights(labels, left_out))
    calibration = (a, b, c) if a > 0 else DEFAULT_CALIBRATION
    fitted = FusionModel(
        signals=tuple(signals),
        scales=scales,
        weights=weights,
        calibration=calibration,
        fitted_on=n_queries,
    )
    logger.info(
        "Fusion fitted on %d held-out questions: weights %s, calibration %s",
        n_queries,
        {k: dict(zip(signals, v, strict=True)) for k, v in weights.items()},
        tuple(round(c, 2) for c in calibration),
    )
    return fitted


# Above this many articles, fitting works on each query's shortlist: the articles some signal
# ranks near the top, plus the right one. The rest never decide a rank or a margin.
SHORTLIST_PER_SIGNAL = 16


def _shortlist(
    normalised: Matrix, gold: npt.NDArray[np.int64]
) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """Narrow (signals, queries, articles) to each query's shortlist; gold re-indexed.

    Large knowledge bases would otherwise make every step of the weight search scan every
    article for every held-out question (minutes for a few thousand articles).
    """
    n_signals, n_queries, n_articles = normalised.shape
    k = SHORTLIST_PER_SIGNAL
    if n_articles <= 4 * k:
        return normalised, gold
    rows = np.arange(n_queries)
    tops = [np.argpartition(-normalised[s], k, axis=1)[:, :k] for s in range(n_signals)]
    picked = np.sort(np.column_stack([*tops, gold]), axis=1)
    repeated = np.zeros(picked.shape, dtype=bool)
    repeated[:, 1:] = picked[:, 1:] == picked[:, :-1]
    narrowed = normalised[:, rows[:, None], picked]
    narrowed[:, repeated] = -10.0  # one copy of each article counts
    position = np.argmax((picked == gold[:, None]) & ~repeated, axis=1)
    return narrowed, position.astype(np.int64)


def _normalised(model: FusionModel, masked: Matrix, lang: str = ANY_LANG) -> Matrix:
    """Normalised scores with disallowed articles (masked as -inf) pushed far down."""
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(masked), model.normalise(masked, lang), -10.0)


def _leave_article_out(normalised: Matrix, gold: npt.NDArray[np.int64]) -> Matrix:
    """The same queries with their right article removed: the best remaining one is wrong."""
    negatives = normalised.copy()
    negatives[:, np.arange(len(gold)), gold] = -10.0
    return negatives
