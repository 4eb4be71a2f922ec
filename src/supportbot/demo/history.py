"""A realistic synthetic support history, so a newcomer's first report means something.

Users ask in Russian and English; some articles help and some do not; handoffs queue up at
peak hours; operators (with names) work at different speeds; a few closed tickets are
reopened by the user in a new conversation; one topic of the knowledge base rises over the
period; unanswered questions form a few clear themes (with personal data sprinkled in,
which the report masks).

A day is generated with numpy, stage by stage over all its conversations at once, straight
into event columns plus the JSON each event row stores: a month of 20,000 conversations a
day is millions of events, far too many for a Python object per event.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from supportbot.analytics.experiments import assign_arm
from supportbot.analytics.table import (
    ITEM_SEP,
    NO_CODE,
    EventColumns,
    arms_key,
    to_micros,
)
from supportbot.demo.builder import Day, DemoBatch, Strings, object_array, to_json
from supportbot.demo.catalog import (
    _CATEGORY_WEIGHTS,
    _DAY_US,
    _HOURLY,
    _OTHER_QUESTION,
    _OTHER_WEIGHT,
    _PII,
    _QUESTIONS,
    GAP_THEMES,
    RISE,
    DemoArticle,
    desk_pairs,
    load_demo_articles,
    rising_category,
)
from supportbot.demo.tickets import OPERATORS, desk_side
from supportbot.domain.events import Event, EventKind

__all__ = [
    "GAP_THEMES",
    "OPERATORS",
    "DemoArticle",
    "DemoBatch",
    "demo_day",
    "demo_history",
    "desk_pairs",
    "load_demo_articles",
    "rising_category",
]

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
Objects = npt.NDArray[np.object_]


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
        ).events()


def _arms_of(
    users: I64, experiments: Mapping[str, Mapping[str, float]], strings: Strings
) -> tuple[I32, F64]:
    """Per user: the code of their arms mapping and their self-service boost."""
    codes = np.full(users.size, NO_CODE, dtype=np.int32)
    boost = np.zeros(users.size, dtype=np.float64)
    if not experiments:
        return codes, boost
    firsts = {name: min(shares) for name, shares in experiments.items()}
    combos: dict[tuple[str, ...], tuple[int, float]] = {}
    uniq, inverse = np.unique(users, return_inverse=True)
    u_codes = np.empty(uniq.size, dtype=np.int32)
    u_boost = np.empty(uniq.size, dtype=np.float64)
    for j, user in enumerate(uniq.tolist()):
        arms = tuple(assign_arm(user, name, shares) for name, shares in experiments.items())
        found = combos.get(arms)
        if found is None:
            mapping = dict(zip(experiments, arms, strict=True))
            better = sum(1 for name, arm in mapping.items() if arm != firsts[name])
            found = combos[arms] = (strings.code(arms_key(mapping)), 0.08 * better)
        u_codes[j], u_boost[j] = found
    return u_codes[inverse.reshape(-1)], u_boost[inverse.reshape(-1)]


def _pick_shown(
    rng: np.random.Generator,
    category: I64,
    ru: npt.NDArray[np.bool_],
    categories: Sequence[str],
    articles: Sequence[DemoArticle],
) -> I64:
    """Per conversation up to 3 distinct articles of its category and language (-1 pads).

    English articles stand in when a category has none in Russian.
    """
    shown = np.full((category.size, 3), -1, dtype=np.int64)
    for ci, cat in enumerate(categories):
        for is_ru, lang in ((True, "ru"), (False, "en")):
            members = np.nonzero((category == ci) & (ru == is_ru))[0]
            if members.size == 0:
                continue
            pool = [i for i, a in enumerate(articles) if a.category == cat and a.lang == lang]
            if not pool:
                pool = [i for i, a in enumerate(articles) if a.category == cat and a.lang == "en"]
            if not pool:
                continue
            width = min(3, len(pool))
            # A random permutation per conversation: argsort of random keys.
            picks = np.argsort(rng.random((members.size, len(pool))), axis=1)[:, :width]
            picked = np.asarray(pool, dtype=np.int64)[picks]
            count = np.minimum(rng.integers(1, 4, size=members.size), width)
            picked[np.arange(width)[None, :] >= count[:, None]] = -1
            shown[members, :width] = picked
    return shown


def demo_day(
    day: int,
    *,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 1,
) -> DemoBatch:
    """The events recorded on day number `day` (0 = the oldest) of a `demo_history`.

    That is the conversations begun that day, and what those of the day before still did
    after midnight (a ticket closed late, a user writing again), in time order: appended
    day after day, the log is in time order like a live bot's. Days are independent (own
    seeds, own id ranges), so they can be made in parallel; the day before is made again.
    """
    end_us = to_micros(end)
    start = end_us - (days - day) * _DAY_US
    stop = start + _DAY_US if day < days - 1 else end_us
    parts = [
        _day_conversations(
            d,
            days=days,
            per_day=per_day,
            end=end,
            articles=articles,
            experiments=experiments,
            seed=seed,
        )
        for d in (day - 1, day)
        if d >= 0
    ]
    # Nothing of a conversation happens a day or more after it began (`_LATEST_CLOSE`).
    picked = [(p, np.nonzero((p.columns.ts >= start) & (p.columns.ts < stop))[0]) for p in parts]
    columns = EventColumns.concat([p.columns.select(rows) for p, rows in picked])
    ids = np.concatenate([object_array(p.conversation_ids)[rows] for p, rows in picked])
    texts = np.concatenate([object_array(p.data)[rows] for p, rows in picked])
    order = np.argsort(columns.ts, kind="stable")
    columns = replace(columns.select(order), event_id=np.arange(order.size, dtype=np.int64))
    return DemoBatch(columns, ids[order].tolist(), texts[order].tolist())


def _day_conversations(
    day: int,
    *,
    days: int,
    per_day: int,
    end: datetime,
    articles: Sequence[DemoArticle],
    experiments: Mapping[str, Mapping[str, float]] | None = None,
    seed: int = 1,
) -> DemoBatch:
    """Every event (before `end`) of the conversations begun on day `day`, time-ordered."""
    rng = np.random.default_rng([seed, day])
    experiments = dict(experiments or {})
    strings = Strings()
    out = Day(strings)
    categories = sorted({a.category for a in articles})
    rising = rising_category(categories)
    end_us = to_micros(end)
    day_start = end_us - (days - day) * _DAY_US
    growth = 1.0 + RISE * day / max(days - 1, 1)
    weights = np.array(
        [
            _CATEGORY_WEIGHTS.get(cat, _OTHER_WEIGHT) * (growth if cat == rising else 1.0)
            for cat in categories
        ]
    )

    n = int(rng.poisson(per_day)) if per_day > 0 else 0
    hours = rng.choice(24, size=n, p=_HOURLY / _HOURLY.sum())
    offsets = np.sort(hours * 3600.0 + rng.random(n) * 3600.0)
    # Busy hours make the queue longer: waits scale with that hour's traffic.
    load = np.bincount(hours, minlength=24) / max(n / 24, 1)
    hour_load = load[(offsets // 3600).astype(np.int64) % 24]
    t0 = day_start + np.round(offsets * 1e6).astype(np.int64)
    users = 1_000_000 + rng.integers(per_day * days // 2 + 10, size=n)
    arm_codes, boost = _arms_of(users, experiments, strings)
    ru = rng.random(n) < 0.6
    category = rng.choice(len(categories), size=n, p=weights / weights.sum())
    gap = rng.random(n) < 0.1
    lang_name = np.where(ru, "ru", "en")
    at = np.zeros(n, dtype=np.float64)
    # Conversations handed to a person, and why.
    reason = np.full(n, "", dtype=object)

    # Nothing in the knowledge base fit: straight to a person (the content gaps).
    g = np.nonzero(gap)[0]
    theme = rng.integers(len(GAP_THEMES), size=g.size)
    pick = rng.integers(1 << 30, size=g.size)
    pii = rng.integers(len(_PII), size=g.size)
    texts = []
    for t, p, k, r in zip(
        theme.tolist(), pick.tolist(), pii.tolist(), ru[g].tolist(), strict=True
    ):
        options = GAP_THEMES[t][0 if r else 1]
        texts.append(options[p % len(options)] + _PII[k])
    confidence = [round(x, 3) for x in rng.uniform(0.05, 0.28, size=g.size).tolist()]
    out.received(g, at[g], texts, lang_name[g].tolist())
    out.add(
        g,
        at[g] + 1,
        EventKind.DECISION,
        object_array(
            [
                to_json({"decision": "handoff", "confidence": c, "articles": [], "text": t})
                for c, t in zip(confidence, texts, strict=True)
            ]
        ),
        value=np.array(confidence, dtype=np.float64),
        label=strings.code("handoff"),
    )
    at[g] += 2
    reason[g] = "low_confidence"

    # The bot suggests articles of the question's category.
    s = np.nonzero(~gap)[0]
    shown = _pick_shown(rng, category[s], ru[s], categories, articles)
    combos, combo_of = np.unique(shown, axis=0, return_inverse=True)
    combo_of = combo_of.reshape(-1)
    combo_ids = [[articles[i].id for i in row if i >= 0] for row in combos.tolist()]
    combo_code = np.array(
        [strings.code(ITEM_SEP.join(ids)) if ids else NO_CODE for ids in combo_ids],
        dtype=np.int32,
    )
    combo_json = [to_json(ids) for ids in combo_ids]
    questions = {
        (ci, r): (_QUESTIONS.get(cat, _OTHER_QUESTION)[0 if r else 1])
        for ci, cat in enumerate(categories)
        for r in (True, False)
    }
    asked = [questions[(c, r)] for c, r in zip(category[s].tolist(), ru[s].tolist(), strict=True)]
    confidence = [round(x, 3) for x in rng.uniform(0.35, 0.9, size=s.size).tolist()]
    out.received(s, at[s], asked, lang_name[s].tolist())
    text_json = {q: to_json(q) for q in set(asked)}
    out.add(
        s,
        at[s] + 1,
        EventKind.DECISION,
        object_array(
            [
                f'{{"decision":"suggest","confidence":{c},"articles":{combo_json[k]},'
                f'"text":{text_json[q]}}}'
                for c, k, q in zip(confidence, combo_of.tolist(), asked, strict=True)
            ]
        ),
        value=np.array(confidence, dtype=np.float64),
        label=strings.code("suggest"),
        items=combo_code[combo_of],
    )
    out.add(
        s,
        at[s] + 2,
        EventKind.SUGGESTION_SHOWN,
        object_array([f'{{"articles":{combo_json[k]}}}' for k in combo_of.tolist()]),
        items=combo_code[combo_of],
    )
    at[s] += rng.uniform(5, 60, size=s.size)
    first = shown[:, 0]
    article_codes = strings.codes([a.id for a in articles])
    helpful_p = np.array([a.helpful_p for a in articles])

    roll = rng.random(s.size)
    asked_person = roll < 0.05
    reason[s[asked_person]] = "user_asked"
    quit_early = ~asked_person & ((first < 0) | (rng.random(s.size) < 0.15))
    out.add(
        s[quit_early],
        at[s[quit_early]],
        EventKind.CONVERSATION_CLOSED,
        '{"outcome":"abandoned"}',
        label=strings.code("abandoned"),
    )
    read = ~asked_person & ~quit_early
    o, art = s[read], first[read]
    out.add(o, at[o], EventKind.ARTICLE_OPENED, article=article_codes[art])
    at[o] += rng.uniform(20, 180, size=o.size)

    # Step-by-step guides: a failed step goes to a person.
    guided = rng.random(o.size) < 0.2
    gd, gart = o[guided], art[guided]
    out.add(gd, at[gd], EventKind.STEP_DONE, '{"step":1}', article=article_codes[gart], value=1.0)
    at[gd] += rng.uniform(10, 60, size=gd.size)
    failed = rng.random(gd.size) < 0.25
    fd, fart = gd[failed], gart[failed]
    out.add(
        fd, at[fd], EventKind.STEP_FAILED, '{"step":2}', article=article_codes[fart], value=2.0
    )
    at[fd] += 2
    reason[fd] = "step_failed"
    ok, okart = gd[~failed], gart[~failed]
    out.add(ok, at[ok], EventKind.STEP_DONE, '{"step":2}', article=article_codes[okart], value=2.0)
    at[ok] += rng.uniform(5, 30, size=ok.size)

    judged = np.ones(o.size, dtype=bool)
    judged[np.nonzero(guided)[0][failed]] = False
    jd, jart = o[judged], art[judged]
    helpful = rng.random(jd.size) < np.minimum(helpful_p[jart] + boost[jd], 0.97)
    out.add(
        jd,
        at[jd],
        EventKind.FEEDBACK,
        np.where(helpful, '{"helpful":true}', '{"helpful":false}').astype(object),
        article=article_codes[jart],
        flag=helpful.astype(np.int8),
    )
    at[jd] += 1
    solved = jd[helpful]
    out.add(solved, at[solved], EventKind.BOT_REPLY)
    out.add(
        solved,
        at[solved] + 1,
        EventKind.CONVERSATION_CLOSED,
        '{"outcome":"self_service"}',
        label=strings.code("self_service"),
    )
    unhelped = jd[~helpful]
    gave_up = rng.random(unhelped.size) < 0.3
    out.add(
        unhelped[gave_up],
        at[unhelped[gave_up]],
        EventKind.CONVERSATION_CLOSED,
        '{"outcome":"abandoned"}',
        label=strings.code("abandoned"),
    )
    reason[unhelped[~gave_up]] = "not_helpful"

    t = np.nonzero(reason != "")[0]
    follow_t0, follow_of = desk_side(
        out,
        rng,
        t,
        at[t],
        reason[t],
        category[t],
        ru[t],
        hour_load[t],
        t0,
        day,
        categories,
        articles,
    )
    conversation_ids = [f"demo-{day}-{i}" for i in range(n)]
    conversation_ids += [f"demo-{day}-{i}-again" for i in follow_of.tolist()]
    return out.finish(
        np.concatenate([t0, follow_t0]),
        np.concatenate([users, users[follow_of]]),
        np.concatenate([arm_codes, arm_codes[follow_of]]),
        conversation_ids,
        end_us,
    )
