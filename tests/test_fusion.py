"""Fusion: fitted weights keep a weak signal from dragging a strong one down; calibration."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from supportbot.retrieval.calibration import auroc, coverage, fit_logistic, prior_weights
from supportbot.retrieval.fusion import TYPO_FLOOR, FusionModel, HeldOut, fit_fusion


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


def test_auroc_equals_scikit_learn_with_ties() -> None:
    rng = np.random.default_rng(3)
    positives = rng.integers(0, 5, 40).astype(float)  # many ties
    negatives = rng.integers(0, 4, 30).astype(float)
    labels = np.r_[np.ones(40), np.zeros(30)]
    expected = roc_auc_score(labels, np.r_[positives, negatives])
    assert auroc(positives, negatives) == pytest.approx(expected, abs=1e-12)
    # The number the hand-written version gave (pinned when it was replaced).
    assert auroc(np.array([0.3, 0.5, 0.5, 0.9]), np.array([0.1, 0.5, 0.3])) == pytest.approx(
        0.7916666666666666
    )


def test_logistic_fit_gives_the_numbers_of_the_newton_fit_it_replaced() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 2))
    y = (x @ [1.5, -0.7] + 0.3 + rng.normal(size=200) > 0).astype(float)
    # Pinned from the hand-written Newton's method (L2 1e-2, bias not penalised).
    newton = (3.1172600121867213, -1.4389024415842713, 0.6005988639744146)
    assert fit_logistic(x, y) == pytest.approx(newton, abs=1e-6)


def test_prior_weights_make_left_out_questions_a_fifth_of_the_traffic() -> None:
    labels = np.r_[np.ones(50), np.zeros(50)]
    left_out = np.r_[np.zeros(50, bool), np.ones(50, bool)]
    weights = prior_weights(labels, left_out)
    assert weights[left_out].sum() / weights.sum() == pytest.approx(0.2)


def test_character_ngrams_keep_weight_where_clean_questions_do_not_need_them() -> None:
    held = _held_out()
    # A third signal that adds nothing on clean questions: the fit alone would drop it.
    held = HeldOut(
        np.concatenate([held.inscope, held.inscope[1:2] * 0.0]),
        held.gold,
        held.lang,
        held.allowed,
    )
    weights = fit_fusion(held, ["strong", "noise", "char"]).weights_for("en")
    assert weights[2] >= TYPO_FLOOR * weights.max() - 1e-12


def test_coverage_counts_the_message_words_the_article_has_typos_included() -> None:
    article = ["card", "declin", "pay", "bank"]
    assert coverage(["card", "declind"], article) == 1.0  # "declinded": one edit away
    assert coverage(["turn", "off", "notif"], ["notif", "arriv"]) == pytest.approx(1 / 3)
    assert coverage([], article) == 1.0
