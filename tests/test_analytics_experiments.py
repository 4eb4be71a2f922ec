"""A/B experiments: stable assignment and honest comparisons."""

from __future__ import annotations

import numpy as np

from supportbot.analytics.experiments import assign_arm, compare_arms, median_ci, wilson


def test_assign_arm_is_stable_and_follows_shares() -> None:
    arms = {"A": 0.2, "B": 0.8}
    first = [assign_arm(u, "threshold", arms) for u in range(20_000)]
    again = [assign_arm(u, "threshold", {"B": 0.8, "A": 0.2}) for u in range(20_000)]
    assert first == again  # same after a restart and whatever the config order
    share_a = first.count("A") / len(first)
    assert 0.18 < share_a < 0.22


def test_assign_arm_differs_between_experiments() -> None:
    arms = {"A": 0.5, "B": 0.5}
    one = [assign_arm(u, "one", arms) for u in range(2000)]
    two = [assign_arm(u, "two", arms) for u in range(2000)]
    agree = sum(a == b for a, b in zip(one, two, strict=True)) / 2000
    assert 0.45 < agree < 0.55


def test_wilson_interval_contains_the_rate() -> None:
    e = wilson(30, 100)
    assert e.value == 0.3
    assert e.low is not None
    assert e.high is not None
    assert e.low < 0.3 < e.high
    assert wilson(0, 0).value is None


def test_median_ci_brackets_median() -> None:
    e = median_ci(np.arange(1.0, 101.0))
    assert e.value == 50.5
    assert e.low is not None
    assert e.high is not None
    assert e.low < 50.5 < e.high


def _data(n: int, rate_a: float, rate_b: float) -> tuple[list[str | None], dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    arms: list[str | None] = [*(["A"] * n), *(["B"] * n)]
    deflected = np.concatenate([rng.random(n) < rate_a, rng.random(n) < rate_b]).astype(float)
    per = {
        "deflected": deflected,
        "handoff": 1.0 - deflected,
        "csat": np.where(rng.random(2 * n) < 0.3, (rng.random(2 * n) < 0.7).astype(float), np.nan),
        "resolution_s": rng.exponential(600, 2 * n),
    }
    return arms, per


def test_compare_arms_says_when_there_is_not_enough_data() -> None:
    arms, per = _data(20, 0.3, 0.6)
    report = compare_arms("exp", arms, per)
    assert not report.enough_data
    assert "Not enough data" in report.verdict
    assert all(c.p_value is None for c in report.comparisons)


def test_compare_arms_finds_a_real_difference() -> None:
    arms, per = _data(2000, 0.30, 0.40)
    report = compare_arms("exp", arms, per)
    by_metric = {c.metric: c for c in report.comparisons}
    assert by_metric["deflection"].significant
    assert by_metric["handoff_rate"].significant
    assert not by_metric["resolution_time"].significant
    assert report.enough_data
    assert [a.arm for a in report.arms] == ["A", "B"]
    assert report.arms[0].deflection.low is not None
