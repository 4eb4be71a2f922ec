"""A realistic synthetic support history, so a newcomer's first report means something.

Users ask in Russian and English; some articles help and some do not; handoffs queue up at
peak hours; operators work at different speeds; one topic rises over the month; unanswered
questions form a few clear themes (with personal data sprinkled in, which the report masks).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from supportbot.analytics.experiments import assign_arm
from supportbot.domain.events import Event, EventKind


@dataclass(frozen=True, slots=True)
class DemoArticle:
    """An article of the demo knowledge base and how well it really helps."""

    id: str
    category: str
    lang: str
    helpful_p: float


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

_QUESTIONS = {
    "payments": ("не проходит оплата картой", "my card payment was declined"),
    "account": ("не могу войти в аккаунт", "I can't log in to my account"),
    "delivery": ("где мой заказ, доставка задерживается", "where is my order, it's late"),
    "orders": ("как отменить заказ", "how do I cancel my order"),
    "technical": ("ошибка при входе в приложение", "error when logging into the app"),
}

_CATEGORY_WEIGHTS = {"payments": 0.3, "account": 0.25, "delivery": 0.2, "orders": 0.15}
_TECHNICAL_WEIGHT = 0.1
RISING_CATEGORY = "delivery"
"""The topic that grows over the demo period (a "rising pain")."""

# Local-hour profile of traffic: quiet at night, peaks late morning and evening.
_HOURLY = np.array(
    [1, 0.6, 0.4, 0.3, 0.3, 0.5, 1, 2, 4, 6, 8, 9, 8, 7, 7, 7, 6, 6, 7, 8, 8, 6, 4, 2],
    dtype=np.float64,
)


def load_demo_articles(kb_dir: Path | None) -> list[DemoArticle]:
    """Articles from a knowledge base folder (<lang>/<category>/<slug>.md), else a built-in set."""
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
        if article_id.endswith(("refund-status", "two-factor")):
            quality = 0.2
        out.append(DemoArticle(article_id, category, lang, quality))
    return out


_Emit = Callable[..., None]
"""Appends one event of the current conversation: (offset from its start, kind, **fields)."""


@dataclass(frozen=True, slots=True)
class _Operator:
    id: int
    speed: float  # multiplies reply delays: 0.5 is twice as fast as 1.0
    quality: float  # shifts ratings


_OPERATORS = [
    _Operator(101, 0.5, 0.3),
    _Operator(102, 0.7, 0.2),
    _Operator(103, 1.0, 0.0),
    _Operator(104, 1.0, 0.1),
    _Operator(105, 1.4, -0.2),
    _Operator(106, 2.0, -0.4),
]


def demo_history(
    *,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 1,
) -> Iterator[list[Event]]:
    """Yield one time-ordered batch of events per day, for `days` days ending at `end`.

    Args:
        days: length of the history.
        per_day: conversations started per day (on average).
        end: the moment the history ends (the last hours hold tickets still open).
        articles: the knowledge base to suggest from.
        experiments: name -> {arm: share}; every arm but the first in name order gets a
            slightly better self-service rate, so experiment reports show something.
        seed: the random seed (same seed, same history).
    """
    for day in range(days):
        yield demo_day(
            day,
            days=days,
            per_day=per_day,
            end=end,
            articles=articles,
            experiments=experiments,
            seed=seed,
        )


def demo_day(
    day: int,
    *,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 1,
) -> list[Event]:
    """The events of day number `day` (0 = the oldest) of a `demo_history`, time-ordered.

    Days are independent (own seed, own id ranges), so they can be made in parallel.
    """
    rng = random.Random(seed * 100_003 + day)
    nprng = np.random.default_rng([seed, day])
    experiments = experiments or {}
    by_cat_lang: dict[tuple[str, str], list[DemoArticle]] = {}
    for article in articles:
        by_cat_lang.setdefault((article.category, article.lang), []).append(article)
    categories = sorted({a.category for a in articles})
    ticket_no = day * 10_000_000
    end_us = end.timestamp()
    day_start = end - timedelta(days=days - day)
    growth = 1.0 + 2.5 * day / max(days - 1, 1)
    weights = [
        _CATEGORY_WEIGHTS.get(cat, _TECHNICAL_WEIGHT) * (growth if cat == RISING_CATEGORY else 1)
        for cat in categories
    ]
    count = int(nprng.poisson(per_day)) if per_day > 0 else 0
    hours = nprng.choice(24, size=count, p=_HOURLY / _HOURLY.sum())
    offsets = np.sort(hours * 3600.0 + nprng.random(count) * 3600.0)
    # Busy hours make the queue longer: waits scale with that hour's traffic.
    load = np.bincount(hours, minlength=24) / max(count / 24, 1)
    events: list[Event] = []
    for number, offset in enumerate(offsets.tolist()):
        t0 = day_start + timedelta(seconds=offset)
        user = 1_000_000 + rng.randrange(per_day * days // 2 + 10)
        arms = {name: assign_arm(user, name, shares) for name, shares in experiments.items()}
        boost = 0.08 * sum(1 for name, arm in arms.items() if arm != min(experiments[name]))
        hour_load = float(load[int(offset // 3600) % 24])
        ticket_no = _conversation(
            events,
            rng,
            t0,
            f"demo-{day}-{number}",
            user,
            arms,
            categories,
            weights,
            by_cat_lang,
            boost,
            hour_load,
            ticket_no,
            end_us,
        )
    events.sort(key=lambda e: e.ts)
    return [e for e in events if e.ts.timestamp() < end_us]


def _conversation(
    out: list[Event],
    rng: random.Random,
    t0: datetime,
    conv: str,
    user: int,
    arms: dict[str, str],
    categories: list[str],
    weights: list[float],
    by_cat_lang: dict[tuple[str, str], list[DemoArticle]],
    boost: float,
    hour_load: float,
    ticket_no: int,
    end_ts: float,
) -> int:
    lang = "ru" if rng.random() < 0.6 else "en"
    category = rng.choices(categories, weights)[0]
    sec = timedelta(seconds=1)

    def add(at: timedelta, kind: EventKind, **kw: Any) -> None:
        out.append(Event(t0 + at, kind, conv, user, arms=arms, **kw))

    at = timedelta()
    if rng.random() < 0.1:
        theme = rng.choice(GAP_THEMES)
        text = rng.choice(theme[0] if lang == "ru" else theme[1]) + rng.choice(_PII)
        add(at, EventKind.MESSAGE_RECEIVED, data={"lang": lang, "text_len": len(text)})
        add(
            at + sec,
            EventKind.DECISION,
            data={
                "decision": "handoff",
                "confidence": round(rng.uniform(0.05, 0.28), 3),
                "articles": [],
                "text": text,
            },
        )
        at += 2 * sec
        reason = "low_confidence"
    else:
        ru_q, en_q = _QUESTIONS.get(category, _QUESTIONS["technical"])
        text = ru_q if lang == "ru" else en_q
        pool = by_cat_lang.get((category, lang)) or by_cat_lang.get((category, "en")) or []
        shown = rng.sample(pool, min(len(pool), rng.randint(1, 3)))
        ids = [a.id for a in shown]
        add(at, EventKind.MESSAGE_RECEIVED, data={"lang": lang, "text_len": len(text)})
        add(
            at + sec,
            EventKind.DECISION,
            data={
                "decision": "suggest",
                "confidence": round(rng.uniform(0.35, 0.9), 3),
                "articles": ids,
                "text": text,
            },
        )
        add(at + 2 * sec, EventKind.SUGGESTION_SHOWN, data={"articles": ids})
        at += timedelta(seconds=rng.uniform(5, 60))
        if rng.random() < 0.05:
            reason = "user_asked"
        elif not shown or rng.random() < 0.15:
            add(at, EventKind.CONVERSATION_CLOSED, data={"outcome": "abandoned"})
            return ticket_no
        else:
            article = shown[0]
            add(at, EventKind.ARTICLE_OPENED, article_id=article.id)
            at += timedelta(seconds=rng.uniform(20, 180))
            if rng.random() < 0.2:
                add(at, EventKind.STEP_DONE, article_id=article.id, data={"step": 1})
                at += timedelta(seconds=rng.uniform(10, 60))
                if rng.random() < 0.25:
                    add(at, EventKind.STEP_FAILED, article_id=article.id, data={"step": 2})
                    reason = "step_failed"
                    at += 2 * sec
                    return _ticket(
                        out, rng, t0, at, add, reason, category, hour_load, ticket_no, end_ts
                    )
                add(at, EventKind.STEP_DONE, article_id=article.id, data={"step": 2})
                at += timedelta(seconds=rng.uniform(5, 30))
            helpful = rng.random() < min(article.helpful_p + boost, 0.97)
            add(at, EventKind.FEEDBACK, article_id=article.id, data={"helpful": helpful})
            at += sec
            if helpful:
                add(at, EventKind.BOT_REPLY)
                add(at + sec, EventKind.CONVERSATION_CLOSED, data={"outcome": "self_service"})
                return ticket_no
            if rng.random() < 0.3:
                add(at, EventKind.CONVERSATION_CLOSED, data={"outcome": "abandoned"})
                return ticket_no
            reason = "not_helpful"
    return _ticket(out, rng, t0, at, add, reason, category, hour_load, ticket_no, end_ts)


def _ticket(
    out: list[Event],
    rng: random.Random,
    t0: datetime,
    at: timedelta,
    emit: _Emit,
    reason: str,
    category: str,
    hour_load: float,
    ticket_no: int,
    end_ts: float,
) -> int:
    ticket = ticket_no + 1
    operator = rng.choice(_OPERATORS)
    emit(at, EventKind.BOT_REPLY)
    emit(at, EventKind.HANDOFF, ticket_id=ticket, data={"reason": reason})
    emit(at, EventKind.QUEUED, ticket_id=ticket, data={"position": 1 + int(hour_load * 3)})
    wait = rng.expovariate(1.0) * 120 * hour_load**2 + 10
    at += timedelta(seconds=wait)
    emit(at, EventKind.TAKEN, ticket_id=ticket, operator_id=operator.id)
    at += timedelta(seconds=rng.expovariate(1.0) * 90 * operator.speed + 15)
    emit(at, EventKind.OPERATOR_REPLY, ticket_id=ticket, operator_id=operator.id)
    for _ in range(rng.randint(0, 2)):
        at += timedelta(seconds=rng.uniform(20, 300))
        emit(at, EventKind.MESSAGE_RECEIVED, ticket_id=ticket, data={"text_len": 40})
        at += timedelta(seconds=rng.expovariate(1.0) * 120 * operator.speed + 10)
        emit(at, EventKind.OPERATOR_REPLY, ticket_id=ticket, operator_id=operator.id)
    at += timedelta(seconds=rng.uniform(60, 1200) * operator.speed)
    if (t0 + at).timestamp() >= end_ts:
        return ticket  # still open when the history ends
    sub = rng.choice(SUBCATEGORIES.get(category, ["other"]))
    emit(
        at,
        EventKind.CLOSED,
        ticket_id=ticket,
        operator_id=operator.id,
        data={"category": category, "subcategory": sub, "by": "operator", "solved_by_bot": False},
    )
    emit(at, EventKind.RATING_REQUESTED, ticket_id=ticket)
    if rng.random() < 0.45:
        mood = 4.2 + operator.quality - min(wait / 1800, 1.5) + rng.gauss(0, 0.9)
        score = max(1, min(5, round(mood)))
        emit(
            at + timedelta(seconds=rng.uniform(5, 600)),
            EventKind.RATING,
            ticket_id=ticket,
            data={"score": score},
        )
    solved = rng.random() < 0.72 + operator.quality / 4
    emit(at + timedelta(seconds=1), EventKind.FCR, ticket_id=ticket, data={"solved": solved})
    emit(at + timedelta(seconds=1), EventKind.CONVERSATION_CLOSED, data={"outcome": "handoff"})
    return ticket
