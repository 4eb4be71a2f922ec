"""What the demo history is made of: articles, questions, planted content gaps, operators.

Plain data and the few functions that read it; `history` turns it into events.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """An article of the demo knowledge base and how well it really helps."""

    id: str
    category: str
    lang: str
    helpful_p: float
    desk: tuple[tuple[str, str | None], ...] = ()
    """The (category, subcategory) pairs of `desk.categories` an operator closes its
    tickets with; empty: the article's own category and a made-up subcategory."""


_BUILTIN_ARTICLES = [
    "en/payments/card-declined",
    "en/payments/refund-status",
    "en/payments/double-charge",
    "en/account/reset-password",
    "en/account/change-email",
    "en/account/two-factor",
    "en/delivery/track-order",
    "en/delivery/delivery-delay",
    "en/orders/cancel-order",
    "en/orders/return-item",
    "en/technical/app-login-error",
    "ru/payments/card-declined",
    "ru/payments/refund-status",
    "ru/payments/double-charge",
    "ru/account/reset-password",
    "ru/account/change-email",
    "ru/account/two-factor",
    "ru/delivery/track-order",
    "ru/delivery/delivery-delay",
    "ru/orders/cancel-order",
    "ru/orders/return-item",
    "ru/technical/app-login-error",
]

SUBCATEGORIES: dict[str, list[str]] = {
    "payments": ["card", "refund", "double_charge"],
    "account": ["login", "email", "2fa"],
    "delivery": ["delay", "tracking", "damaged"],
    "orders": ["cancel", "return"],
    "technical": ["app_crash", "login_error"],
}
"""Subcategories of the built-in categories; other categories use their articles' names."""

# One theme per list: (ru messages, en messages). Each is what the bot could not answer.
GAP_THEMES: list[tuple[list[str], list[str]]] = [
    (
        ["можно ли оплатить криптовалютой", "принимаете биткоин?", "оплата в USDT возможна?"],
        ["can I pay with crypto", "do you accept bitcoin", "is USDT payment possible"],
    ),
    (
        ["как выгрузить все мои данные", "хочу получить копию моих персональных данных"],
        ["how do I download all my data", "I want a copy of my personal data (GDPR)"],
    ),
    (
        ["доставляете в Казахстан?", "есть ли доставка в Беларусь", "доставка в Армению"],
        ["do you ship to Kazakhstan", "is there delivery to Georgia", "shipping to Armenia?"],
    ),
    (
        ["нужен счёт для юрлица с НДС", "как получить закрывающие документы для ООО"],
        ["I need an invoice with VAT for my company", "how to get a tax invoice for business"],
    ),
    (
        ["приложение вылетает при запуске на андроид 14", "после обновления приложение крашится"],
        ["app crashes on startup on android 14", "the app keeps crashing after the update"],
    ),
]

_PII = [
    *([""] * 14),
    " my email is john.doe@example.com",
    " мой номер +7 912 345-67-89",
    " card 4111 1111 1111 1111",
    " call me at +1 (555) 123-4567",
    " почта ivan.petrov@mail.ru",
]

_QUESTIONS: dict[str, tuple[str, str]] = {
    # The built-in categories.
    "payments": ("не проходит оплата картой", "my card payment was declined"),
    "account": ("не могу войти в аккаунт", "I can't log in to my account"),
    "delivery": ("где мой заказ, доставка задерживается", "where is my order, it's late"),
    "orders": ("как отменить заказ", "how do I cancel my order"),
    "technical": ("ошибка при входе в приложение", "error when logging into the app"),
    # The shipped knowledge base.
    "ads": ("мою рекламу отклонили", "my ad was rejected"),
    "groups": ("как удалить участника из группы", "how do I remove a member from my group"),
    "notifications": ("не приходят уведомления", "notifications are not arriving"),
    "privacy": ("как скрыть профиль от незнакомых", "how do I hide my profile from strangers"),
    "profile": ("как восстановить удалённый профиль", "how do I restore my deleted profile"),
    "purchases": ("премиум не активировался после оплаты", "premium not activated after paying"),
    "uploads": ("не загружается видео", "my video upload keeps failing"),
}
_OTHER_QUESTION = ("у меня проблема", "I have a problem")
_PERSON_AGAIN = ("всё ещё не работает, нужен оператор", "still not working, I need a person")

_CATEGORY_WEIGHTS = {
    "payments": 0.3,
    "account": 0.25,
    "delivery": 0.2,
    "orders": 0.15,
    "purchases": 0.15,
    "privacy": 0.08,
    "profile": 0.08,
    "notifications": 0.07,
    "groups": 0.05,
    "ads": 0.05,
    "uploads": 0.04,
}
_OTHER_WEIGHT = 0.1

RISING_PREFERENCE = ("uploads", "delivery", "notifications", "payments")
"""Topics that make a plausible "rising pain", best first; the first present one rises."""
RISE = 5.0
"""How much the rising topic's weight grows from the first day to the last (x6 at the end)."""

# Local-hour profile of traffic: quiet at night, peaks late morning and evening.
_HOURLY = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 4, 6, 8, 9, 8, 7, 7, 7, 6, 6, 7, 8, 8, 6, 4, 2],
    dtype=np.float64,
)
_DAY_US = 86_400_000_000
_LATEST_CLOSE = 18 * 3600.0
"""Users who write again do so within this many seconds of the close (or never)."""


def rising_category(categories: Sequence[str]) -> str:
    """The topic that grows over the demo period: a preferred one if present, else the first.

    Raises:
        ValueError: there are no categories.
    """
    present = sorted(set(categories))
    if not present:
        raise ValueError("no categories to pick a rising topic from")
    return next((c for c in RISING_PREFERENCE if c in present), present[0])


def desk_pairs(
    category: str, desk_categories: Mapping[str, Sequence[str]]
) -> tuple[tuple[str, str | None], ...]:
    """How an operator files a ticket about a knowledge-base `category` in the configured
    `desk.categories`: the category itself with any of its subcategories, the category it
    is a subcategory of, or "other"."""
    if not desk_categories:
        return ()
    if category in desk_categories:
        subs = desk_categories[category]
        return tuple((category, sub) for sub in subs) if subs else ((category, None),)
    parents = [name for name, subs in desk_categories.items() if category in subs]
    if parents:
        return ((parents[0], category),)
    if "other" in desk_categories:
        subs = desk_categories["other"]
        return tuple(("other", sub) for sub in subs) if subs else (("other", None),)
    first = next(iter(desk_categories))
    return ((first, None),)


def load_demo_articles(
    kb_dir: Path | None, desk_categories: Mapping[str, Sequence[str]] | None = None
) -> list[DemoArticle]:
    """Articles from a knowledge base folder (<lang>/<category>/<slug>.md), else a built-in set.

    With `desk_categories` (the configured `desk.categories`), demo tickets are closed with
    those categories and subcategories, as operators would.
    """
    ids: list[str] = []
    if kb_dir is not None and kb_dir.is_dir():
        for path in sorted(kb_dir.rglob("*.md")):
            parts = path.relative_to(kb_dir).with_suffix("").parts
            if len(parts) >= 3 and parts[0] in {"ru", "en"} and not parts[-1].startswith("_"):
                ids.append("/".join(parts))
    if len({i.split("/")[0] for i in ids}) < 2:
        ids = list(_BUILTIN_ARTICLES)
    rng = random.Random(7)
    out = []
    for article_id in ids:
        lang, category = article_id.split("/")[:2]
        # Most articles help; a few are poor and need rewriting.
        quality = rng.choice([0.85, 0.8, 0.75, 0.7, 0.65, 0.25])
        if article_id.endswith(("refund-status", "two-factor", "two-factor-auth")):
            quality = 0.2
        out.append(
            DemoArticle(
                article_id, category, lang, quality, desk_pairs(category, desk_categories or {})
            )
        )
    return out
