"""Content gaps: personal data masked in examples, everything else left readable."""

from __future__ import annotations

import pytest

from supportbot.analytics.gaps import find_themes, mask_pii
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
