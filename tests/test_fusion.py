"""Fusion: fitted weights keep a weak signal from dragging a strong one down; calibration."""

from __future__ import annotations

import numpy as np

from supportbot.retrieval.fusion import FusionModel, HeldOut, auroc, fit_fusion


def _held_out(n_queries: int = 120, n_articles: int = 30, seed: int = 1) -> HeldOut:
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, n_articles, n_queries)
    strong = rng.normal(0.3, 0.08, (n_queries, n_articles))
    strong[np.arange(n_queries), gold] += 0.35  # the right article stands out
    noise = rng.normal(0.5, 0.15, (n_queries, n_articles))  # knows nothing
    return HeldOut(
        inscope=np.stack([strong, noise]),
        gold=gold.astype(np.int64),
        lang=["en"] * n_queries,
        allowed=np.ones((n_queries, n_articles), dtype=bool),
    )


def _recall_at_1(model: FusionModel, held: HeldOut, lang: str = "en") -> float:
    fused = model.fuse(held.inscope, lang)
    return float((fused.argmax(axis=1) == held.gold).mean())


def test_fusion_weak_signal_does_not_drag_the_strong_one_down() -> None:
    held = _held_out()
    model = fit_fusion(held, ["strong", "noise"])
    weights = model.weights_for("en")
    assert weights[0] > weights[1]
    test = _held_out(seed=2)
    strong_alone = float((test.inscope[0].argmax(axis=1) == test.gold).mean())
    assert _recall_at_1(model, test) >= strong_alone - 0.02


def test_fusion_fits_weights_per_language() -> None:
    en = _held_out(seed=3)
    ru = _held_out(seed=4)
    # In Russian the "strong" signal is the noisy one: swap the rows.
    ru = HeldOut(ru.inscope[::-1].copy(), ru.gold, ["ru"] * len(ru.gold), ru.allowed)
    both = HeldOut(
        np.concatenate([en.inscope, ru.inscope], axis=1),
        np.concatenate([en.gold, ru.gold]),
        [*en.lang, *ru.lang],
        np.concatenate([en.allowed, ru.allowed]),
    )
    model = fit_fusion(both, ["a", "b"])
    assert model.weights_for("en")[0] > model.weights_for("en")[1]
    assert model.weights_for("ru")[1] > model.weights_for("ru")[0]


def test_fusion_confidence_is_a_calibrated_probability() -> None:
    held = _held_out(n_queries=400)
    model = fit_fusion(held, ["strong", "noise"])
    fused = model.fuse(held.inscope, "en")
    order = np.sort(fused, axis=1)
    confidence = model.confidence(order[:, -1], order[:, -1] - order[:, -2])
    correct = fused.argmax(axis=1) == held.gold
    assert ((confidence >= 0) & (confidence <= 1)).all()
    # Right answers are more confident than wrong ones, and confident ones are mostly right.
    assert confidence[correct].mean() > 0.6
    assert correct[confidence > 0.8].mean() > 0.8


def test_fusion_falls_back_to_priors_without_questions() -> None:
    held = _held_out(n_queries=5)
    model = fit_fusion(held, ["minilm", "bm25"])
    assert model == FusionModel.default(["minilm", "bm25"])


def test_auroc_matches_the_definition() -> None:
    assert auroc(np.array([0.9, 0.8]), np.array([0.1, 0.2])) == 1.0
    assert auroc(np.array([0.1]), np.array([0.9])) == 0.0
    assert auroc(np.array([0.5, 0.5]), np.array([0.5])) == 0.5
