"""A/B experiments: stable arm assignment and the comparison of arms with honest statistics."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

MIN_CONVERSATIONS = 100
"""Per arm, below this many conversations the rates are not compared at all."""
MIN_RATINGS = 30
MIN_RESOLVED = 30
ALPHA = 0.05


def assign_arm(user_id: int, experiment_name: str, arms: Mapping[str, float]) -> str:
    """The arm of `user_id` in an experiment: a stable hash, the same after every restart.

    Arms are taken in name order so reordering the config does not move users; each user
    lands in an arm with probability equal to its share.
    """
    if not arms:
        raise ValueError("an experiment needs arms")
    digest = hashlib.blake2b(f"{experiment_name}\x00{user_id}".encode(), digest_size=8).digest()
    point = int.from_bytes(digest, "big") / 2**64
    total = sum(arms.values())
    names = sorted(arms)
    cumulative = 0.0
    for name in names:
        cumulative += arms[name] / total
        if point < cumulative:
            return name
    return names[-1]  # float rounding at the very top of the range


@dataclass(frozen=True, slots=True)
class Estimate:
    """A measured figure with its 95% confidence interval (None when there is no data)."""

    value: float | None
    low: float | None
    high: float | None
    n: int


@dataclass(frozen=True, slots=True)
class ArmResult:
    """One arm's figures."""

    arm: str
    conversations: int
    deflection: Estimate
    handoff_rate: Estimate
    csat: Estimate
    resolution_median_s: Estimate


@dataclass(frozen=True, slots=True)
class Comparison:
    """One metric compared across arms: the test's p-value, or why there is none."""

    metric: str
    test: str
    p_value: float | None
    significant: bool | None
    note: str


@dataclass(frozen=True, slots=True)
class ExperimentReport:
    """Arms side by side, a test per metric and a plain verdict."""

    name: str
    arms: list[ArmResult]
    comparisons: list[Comparison]
    enough_data: bool
    verdict: str


def wilson(successes: int, n: int, z: float = 1.959964) -> Estimate:
    """A proportion with its Wilson score interval (good even for small n and extremes)."""
    if n == 0:
        return Estimate(None, None, None, 0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)


def _stats() -> ModuleType:
    """scipy.stats, imported on first use: the import takes most of a second, which demo
    workers and reports without an experiment would pay for nothing."""
    import scipy.stats

    module: ModuleType = scipy.stats
    return module


def median_ci(values: npt.NDArray[np.float64]) -> Estimate:
    """A median with a distribution-free 95% interval from binomial order statistics."""
    n = int(values.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    ordered = np.sort(values)
    stats = _stats()
    low_rank = int(stats.binom.ppf(0.025, n, 0.5))
    high_rank = int(stats.binom.isf(0.025, n, 0.5))
    low = float(ordered[max(low_rank - 1, 0)])
    high = float(ordered[min(high_rank, n - 1)])
    return Estimate(float(np.median(ordered)), low, high, n)


def _proportion_test(counts: Sequence[tuple[int, int]]) -> float | None:
    """p-value of "all arms share one rate" (chi-square; Fisher's exact test for 2x2)."""
    table = np.array([[s, n - s] for s, n in counts], dtype=np.int64)
    if (table.sum(axis=0) == 0).any():
        return 1.0  # everyone in one column: no difference to find
    stats = _stats()
    if table.shape[0] == 2 and table.min() < 5:
        return float(stats.fisher_exact(table)[1])
    return float(stats.chi2_contingency(table)[1])


def compare_arms(
    name: str,
    arm_of_conversation: Sequence[str | None],
    per_conversation: Mapping[str, npt.NDArray[np.float64]],
) -> ExperimentReport:
    """Compare arms on deflection, handoff rate, CSAT and resolution time.

    Args:
        name: the experiment.
        arm_of_conversation: per conversation, its arm (None: not in the experiment).
        per_conversation: "deflected", "handoff" (0/1), "csat" (0/1, NaN unrated) and
            "resolution_s" (NaN when open), aligned with `arm_of_conversation`.
    """
    labels = np.array([a if a is not None else "" for a in arm_of_conversation], dtype=object)
    arm_names = sorted({a for a in arm_of_conversation if a is not None})
    arms: list[ArmResult] = []
    samples: dict[str, dict[str, npt.NDArray[np.float64]]] = {}
    for arm in arm_names:
        mask = labels == arm
        part = {key: values[mask] for key, values in per_conversation.items()}
        samples[arm] = part
        csat = part["csat"][~np.isnan(part["csat"])]
        resolution = part["resolution_s"][~np.isnan(part["resolution_s"])]
        arms.append(
            ArmResult(
                arm=arm,
                conversations=int(mask.sum()),
                deflection=wilson(int(part["deflected"].sum()), int(mask.sum())),
                handoff_rate=wilson(int(part["handoff"].sum()), int(mask.sum())),
                csat=wilson(int(csat.sum()), int(csat.size)),
                resolution_median_s=median_ci(resolution),
            )
        )
    comparisons: list[Comparison] = []
    if len(arms) < 2:
        return ExperimentReport(
            name,
            arms,
            comparisons,
            False,
            f"Not enough data yet: fewer than two arms of {name!r} have conversations.",
        )
    rate_ok = all(a.conversations >= MIN_CONVERSATIONS for a in arms)
    for metric, key in (("deflection", "deflected"), ("handoff_rate", "handoff")):
        if not rate_ok:
            comparisons.append(
                Comparison(
                    metric,
                    "chi-square",
                    None,
                    None,
                    f"not enough data: each arm needs {MIN_CONVERSATIONS} conversations",
                )
            )
            continue
        counts = [(int(samples[a][key].sum()), samples[a][key].size) for a in arm_names]
        p = _proportion_test(counts)
        comparisons.append(_verdict(metric, "chi-square", p))
    csat_counts = [
        (int(np.nansum(samples[a]["csat"])), int((~np.isnan(samples[a]["csat"])).sum()))
        for a in arm_names
    ]
    if all(n >= MIN_RATINGS for _, n in csat_counts):
        comparisons.append(_verdict("csat", "chi-square", _proportion_test(csat_counts)))
    else:
        comparisons.append(
            Comparison(
                "csat",
                "chi-square",
                None,
                None,
                f"not enough data: each arm needs {MIN_RATINGS} ratings",
            )
        )
    times = [samples[a]["resolution_s"][~np.isnan(samples[a]["resolution_s"])] for a in arm_names]
    if all(t.size >= MIN_RESOLVED for t in times):
        stats = _stats()
        p = (
            float(stats.kruskal(*times)[1])
            if len(times) > 2
            else float(stats.mannwhitneyu(times[0], times[1], alternative="two-sided")[1])
        )
        test = "kruskal-wallis" if len(times) > 2 else "mann-whitney u"
        comparisons.append(_verdict("resolution_time", test, p))
    else:
        comparisons.append(
            Comparison(
                "resolution_time",
                "mann-whitney u",
                None,
                None,
                f"not enough data: each arm needs {MIN_RESOLVED} resolved conversations",
            )
        )
    tested = [c for c in comparisons if c.p_value is not None]
    enough = bool(tested)
    if not enough:
        verdict = "Not enough data yet to compare the arms; keep the experiment running."
    else:
        winners = [c.metric for c in tested if c.significant]
        verdict = (
            "Significant differences (p < 0.05) in: " + ", ".join(winners) + "."
            if winners
            else "No significant difference between the arms so far (p >= 0.05)."
        )
        if len(tested) < len(comparisons):
            verdict += " Some metrics still lack data."
    return ExperimentReport(name, arms, comparisons, enough, verdict)


def _verdict(metric: str, test: str, p: float | None) -> Comparison:
    if p is None or math.isnan(p):
        return Comparison(metric, test, None, None, "the test could not be computed")
    significant = p < ALPHA
    note = "significant" if significant else "no significant difference"
    return Comparison(metric, test, p, significant, note)
