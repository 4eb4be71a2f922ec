"""Content gaps: personal data masked in examples, everything else left readable."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from supportbot.analytics.gaps import (
    THEME_MAX_DISTANCE,
    cluster_by_similarity,
    find_themes,
    mask_pii,
    question_part,
)
from supportbot.demo.history import GAP_THEMES, demo_day, load_demo_articles
from supportbot.retrieval.embedders import HashingEmbedder


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        # Phone numbers, as people write them: each one masked whole.
        ("call (555) 123-4567 now", "call [phone] now"),
        ("555-1234", "[phone]"),
        ("+7 (916) 123-45-67", "[phone]"),
        ("8 916 123 45 67", "[phone]"),
        ("тел. 8 (916) 123-45-67", "тел. [phone]"),
        ("+44 20 7946 0958", "[phone]"),
        ("мой номер +7 912 345-67-89", "мой номер [phone]"),
        ("call me at +1 (555) 123-4567", "call me at [phone]"),
        ("+79161234567", "[phone]"),
        ("89161234567", "[phone]"),
        ("телефон 123-45-67", "телефон [phone]"),
        # E-mails and cards.
        ("my email is john.doe@example.com", "my email is [email]"),
        ("почта ivan.petrov@mail.ru!", "почта [email]!"),
        ("card 4111 1111 1111 1111", "card [card]"),
        ("card 4111-1111-1111-1111 expired", "card [card] expired"),
        ("4111111111111111", "[card]"),
        ("1234 5678 9012 3456", "[card]"),  # card-like groups: a mistyped card is a card
        ("AmEx 3782 822463 10005", "AmEx [card]"),
        # Not personal contact data: kept, they say what the question is about.
        ("2024-05-01 10:00:00", "2024-05-01 10:00:00"),
        ("с 10:00 до 18:00 01.05.2024", "с 10:00 до 18:00 01.05.2024"),
        ("заказ 12345678 не пришёл", "заказ 12345678 не пришёл"),
        ("ИНН 7707083893", "ИНН 7707083893"),
        ("ИНН 500100732259", "ИНН 500100732259"),
        ("order 1234567890123", "order 1234567890123"),  # 13 digits, fails Luhn
        ("ошибка 404 и 500", "ошибка 404 и 500"),
        ("version 1.2.3", "version 1.2.3"),
    ],
)
def test_mask_pii(text: str, masked: str) -> None:
    assert mask_pii(text) == masked


def test_find_themes_examples_are_masked() -> None:
    emb = HashingEmbedder()
    themes = find_themes(
        ["pay with bitcoin? +7 916 123-45-67", "order 12345678 paid with bitcoin"],
        lambda t: emb.embed(t, query=True),
        k=1,
    )
    assert sorted(themes[0].examples) == [
        "order 12345678 paid with bitcoin",
        "pay with bitcoin? [phone]",
    ]


@pytest.fixture(scope="module")
def multilingual() -> Any:
    """The packaged multilingual encoder the report uses for themes (loaded once)."""
    from supportbot.retrieval.embedders import create_embedder

    return create_embedder("use", "use-multilingual-v3")


def _planted(text: str) -> int:
    """The planted demo theme a message belongs to (-1: none)."""
    phrases = [(p, i) for i, (ru, en) in enumerate(GAP_THEMES) for p in (*ru, *en)]
    return next(
        (i for p, i in sorted(phrases, key=lambda x: -len(x[0])) if text.startswith(p)), -1
    )


def _unanswered_demo_messages() -> list[str]:
    articles = load_demo_articles(Path(__file__).resolve().parents[1] / "knowledge_base")
    texts: list[str] = []
    for day in range(3):
        batch = demo_day(
            day, days=3, per_day=2000, end=datetime(2024, 6, 1, tzinfo=UTC), articles=articles
        )
        for data in batch.data:
            if data and '"decision":"handoff"' in data:
                text = json.loads(data).get("text")
                if text:
                    texts.append(text)
    return texts


def test_find_themes_planted_demo_themes_are_coherent(multilingual: Any) -> None:
    texts = _unanswered_demo_messages()
    counts = Counter(question_part(mask_pii(t).strip()) for t in texts)
    questions = list(counts)
    truth = [_planted(q) for q in questions]
    assert set(truth) == set(range(len(GAP_THEMES)))
    labels = cluster_by_similarity(
        np.asarray(multilingual.embed(questions, query=True)), THEME_MAX_DISTANCE
    ).tolist()
    cells: Counter[tuple[int, int]] = Counter()
    for question, planted, label in zip(questions, truth, labels, strict=True):
        cells[(planted, label)] += counts[question]
    total = sum(cells.values())
    # Purity: each theme found is mostly one planted theme; coverage: each planted theme
    # lands mostly in one theme found.
    purity = sum(max(n for (_, c), n in cells.items() if c == label) for label in set(labels))
    coverage = sum(max(n for (p, _), n in cells.items() if p == planted) for planted in set(truth))
    assert purity / total >= 0.9
    assert coverage / total >= 0.9
    themes = find_themes(texts, lambda t: multilingual.embed(list(t), query=True))
    assert len(themes) == len(GAP_THEMES)
    for theme in themes:
        # Masked data and the words around it are never keywords, titles or repeats.
        assert not {"email", "card", "phone", "call", "почта", "номер"} & set(theme.keywords)
        assert theme.suggested_title
        assert "[" not in theme.suggested_title
        assert len({question_part(e).lower() for e in theme.examples}) == len(theme.examples)
