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

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from supportbot.analytics.experiments import assign_arm
from supportbot.analytics.table import (
    ITEM_SEP,
    NO_CODE,
    NONE_ID,
    EventColumns,
    arms_key,
    conversation_key,
    from_micros,
    to_micros,
)
from supportbot.demo.catalog import (
    _CATEGORY_WEIGHTS,
    _DAY_US,
    _HOURLY,
    _LATEST_CLOSE,
    _OTHER_QUESTION,
    _OTHER_WEIGHT,
    _PERSON_AGAIN,
    _PII,
    _QUESTIONS,
    GAP_THEMES,
    RISE,
    SUBCATEGORIES,
    DemoArticle,
    desk_pairs,
    load_demo_articles,
    rising_category,
)

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
from supportbot.domain.events import Event, EventKind

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
Objects = npt.NDArray[np.object_]


@dataclass(frozen=True, slots=True)
class _Operator:
    id: int
    name: str
    speed: float  # multiplies reply delays: 0.5 is twice as fast as 1.0
    quality: float  # shifts ratings


OPERATORS = [
    _Operator(101, "Anna", 0.5, 0.3),
    _Operator(102, "Boris", 0.7, 0.2),
    _Operator(103, "Carmen", 1.0, 0.0),
    _Operator(104, "Dmitry", 1.2, 0.1),  # distinct from Carmen: equal speeds made equal medians
    _Operator(105, "Elena", 1.4, -0.2),
    _Operator(106, "Farid", 2.0, -0.4),
]


@dataclass(frozen=True, slots=True)
class DemoBatch:
    """One demo day: its events as columns (`event_id` = position) and each row's texts."""

    columns: EventColumns
    conversation_ids: list[str]
    data: list[str | None]
    """The JSON object each event row stores as `data` (None when empty)."""

    def __len__(self) -> int:
        return len(self.columns)

    def to_arrow(self, first_id: int) -> pa.Table:
        """The rows as an event log stores them (`RAW_SCHEMA`), with ids from `first_id`."""
        c = self.columns
        table = np.empty(len(c.strings) + 1, dtype=object)  # index -1 (NO_CODE) is None
        table[:-1] = c.strings
        table[-1] = None

        def ids(values: I64) -> pa.Array:
            return pa.array(values, mask=values == NONE_ID, type=pa.int64())

        return pa.table(
            {
                "id": pa.array(np.arange(first_id, first_id + len(c), dtype=np.int64)),
                "ts": pa.array(c.ts),
                "kind": pa.array(table[c.kind], type=pa.string()),
                "conversation_id": pa.array(self.conversation_ids, type=pa.string()),
                "user_id": pa.array(c.user),
                "ticket_id": ids(c.ticket),
                "operator_id": ids(c.operator),
                "article_id": pa.array(table[c.article], type=pa.string()),
                "data": pa.array(self.data, type=pa.string()),
                "arms": pa.array(table[c.arms], type=pa.string()),
            }
        )

    def events(self) -> list[Event]:
        """The same events as `Event` objects (for in-memory logs and tests; slow for a month)."""
        c = self.columns
        strings = c.strings
        arms: dict[int, dict[str, str]] = {}
        out: list[Event] = []
        for i, (ts, kind, user, ticket, operator, article, arm) in enumerate(
            zip(
                c.ts.tolist(),
                c.kind.tolist(),
                c.user.tolist(),
                c.ticket.tolist(),
                c.operator.tolist(),
                c.article.tolist(),
                c.arms.tolist(),
                strict=True,
            )
        ):
            if arm not in arms:
                arms[arm] = json.loads(strings[arm]) if arm != NO_CODE else {}
            data = self.data[i]
            out.append(
                Event(
                    ts=from_micros(ts),
                    kind=EventKind(strings[kind]),
                    conversation_id=self.conversation_ids[i],
                    user_id=user,
                    ticket_id=None if ticket == NONE_ID else ticket,
                    operator_id=None if operator == NONE_ID else operator,
                    article_id=None if article == NO_CODE else strings[article],
                    data=json.loads(data) if data else {},
                    arms=arms[arm],
                )
            )
        return out


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


class _Strings:
    """The string dictionary of one batch (codes as `EventColumns` uses them)."""

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}

    def code(self, text: str) -> int:
        found = self._codes.get(text)
        if found is None:
            found = self._codes[text] = len(self._codes)
        return found

    def codes(self, texts: Sequence[str]) -> I32:
        return np.array([self.code(t) for t in texts], dtype=np.int32)

    def table(self) -> tuple[str, ...]:
        return tuple(self._codes)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _objects(texts: Sequence[str | None]) -> Objects:
    out = np.empty(len(texts), dtype=object)
    out[:] = texts
    return out


_Column = npt.NDArray[Any] | int | float | None


class _Day:
    """Events of one day gathered stage by stage; each conversation's stages in order."""

    _FIELDS = ("ticket", "operator", "article", "label", "label2", "items", "value", "flag")
    _FILL: ClassVar[Mapping[str, tuple[float, type]]] = {
        "ticket": (NONE_ID, np.int64),
        "operator": (NONE_ID, np.int64),
        "article": (NO_CODE, np.int32),
        "label": (NO_CODE, np.int32),
        "label2": (NO_CODE, np.int32),
        "items": (NO_CODE, np.int32),
        "value": (np.nan, np.float64),
        "flag": (-1, np.int8),
    }

    def __init__(self, strings: _Strings) -> None:
        self.strings = strings
        self.parts: dict[str, list[npt.NDArray[np.generic]]] = {
            name: [] for name in ("conv", "at", "kind", "seq", "data", *self._FIELDS)
        }
        self._seq = 0

    def add(
        self,
        conv: I64,
        at: F64,
        kind: EventKind,
        data: str | Objects | None = None,
        **fields: _Column,
    ) -> None:
        """Events of `kind` for conversations `conv` at `at` seconds after their start.

        `fields` are column values (arrays aligned with `conv`, or one value for all).
        """
        m = int(conv.size)
        if m == 0:
            return
        self._seq += 1
        self.parts["conv"].append(conv)
        self.parts["at"].append(np.broadcast_to(np.asarray(at, dtype=np.float64), (m,)))
        self.parts["kind"].append(np.full(m, self.strings.code(str(kind)), dtype=np.int32))
        self.parts["seq"].append(np.full(m, self._seq, dtype=np.int32))
        if data is None or isinstance(data, str):
            self.parts["data"].append(np.full(m, data, dtype=object))
        else:
            self.parts["data"].append(data)
        for name in self._FIELDS:
            fill, dtype = self._FILL[name]
            value = fields.get(name)
            column = np.full(m, fill, dtype=dtype) if value is None else value
            self.parts[name].append(np.broadcast_to(np.asarray(column, dtype=dtype), (m,)))

    def received(self, conv: I64, at: F64, texts: Sequence[str], langs: Sequence[str]) -> None:
        """`message_received` events of the users' `texts` (written in `langs`)."""
        self.add(
            conv,
            at,
            EventKind.MESSAGE_RECEIVED,
            _objects(
                [
                    _json({"lang": lang, "text_len": len(t)})
                    for lang, t in zip(langs, texts, strict=True)
                ]
            ),
            value=np.array([len(t) for t in texts], dtype=np.float64),
            label=np.array([self.strings.code(lang) for lang in langs], dtype=np.int32),
        )

    def finish(
        self,
        t0: I64,
        users: I64,
        arms: I32,
        conversation_ids: list[str],
        end_us: int,
    ) -> DemoBatch:
        """Time-ordered columns of everything before `end_us`."""
        if not self.parts["conv"]:
            empty = EventColumns.empty()
            return DemoBatch(empty, [], [])
        joined = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        conv = joined["conv"].astype(np.int64)
        ts = t0[conv] + np.round(joined["at"] * 1e6).astype(np.int64)
        keep = np.nonzero(ts < end_us)[0]
        # Time order; ties within a conversation keep the order the stages were added in.
        order = keep[np.lexsort((joined["seq"][keep], conv[keep], ts[keep]))]
        conv = conv[order]
        keys = np.array([conversation_key(c) for c in conversation_ids], dtype=np.int64)
        ids = _objects(conversation_ids)
        columns = EventColumns(
            event_id=np.arange(order.size, dtype=np.int64),
            ts=ts[order],
            conversation=keys[conv],
            user=users[conv],
            ticket=joined["ticket"][order],
            operator=joined["operator"][order],
            kind=joined["kind"][order],
            article=joined["article"][order],
            label=joined["label"][order],
            label2=joined["label2"][order],
            items=joined["items"][order],
            arms=arms[conv],
            value=joined["value"][order],
            flag=joined["flag"][order],
            strings=self.strings.table(),
        )
        return DemoBatch(columns, ids[conv].tolist(), joined["data"][order].tolist())


def _arms_of(
    users: I64, experiments: Mapping[str, Mapping[str, float]], strings: _Strings
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
    ids = np.concatenate([_objects(p.conversation_ids)[rows] for p, rows in picked])
    texts = np.concatenate([_objects(p.data)[rows] for p, rows in picked])
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
    strings = _Strings()
    out = _Day(strings)
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
        _objects(
            [
                _json({"decision": "handoff", "confidence": c, "articles": [], "text": t})
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
    combo_json = [_json(ids) for ids in combo_ids]
    questions = {
        (ci, r): (_QUESTIONS.get(cat, _OTHER_QUESTION)[0 if r else 1])
        for ci, cat in enumerate(categories)
        for r in (True, False)
    }
    asked = [questions[(c, r)] for c, r in zip(category[s].tolist(), ru[s].tolist(), strict=True)]
    confidence = [round(x, 3) for x in rng.uniform(0.35, 0.9, size=s.size).tolist()]
    out.received(s, at[s], asked, lang_name[s].tolist())
    text_json = {q: _json(q) for q in set(asked)}
    out.add(
        s,
        at[s] + 1,
        EventKind.DECISION,
        _objects(
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
        _objects([f'{{"articles":{combo_json[k]}}}' for k in combo_of.tolist()]),
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
    follow_t0, follow_of = _tickets(
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


def _ticket_categories(
    categories: Sequence[str], articles: Sequence[DemoArticle]
) -> list[list[tuple[str, str | None]]]:
    """Per knowledge-base category: the (category, subcategory) pairs its tickets close with."""
    out: list[list[tuple[str, str | None]]] = []
    for cat, made_up in zip(categories, _subcategories(categories, articles), strict=True):
        desk = sorted({pair for a in articles if a.category == cat for pair in a.desk}, key=str)
        out.append(desk or [(cat, sub) for sub in made_up])
    return out


def _subcategories(categories: Sequence[str], articles: Sequence[DemoArticle]) -> list[list[str]]:
    out = []
    for cat in categories:
        subs = SUBCATEGORIES.get(cat) or sorted(
            {a.id.rsplit("/", 1)[-1] for a in articles if a.category == cat}
        )
        out.append(subs or ["other"])
    return out


def _tickets(
    out: _Day,
    rng: np.random.Generator,
    conv: I64,
    at: F64,
    reason: Objects,
    category: I64,
    ru: npt.NDArray[np.bool_],
    hour_load: F64,
    t0: I64,
    day: int,
    categories: Sequence[str],
    articles: Sequence[DemoArticle],
) -> tuple[I64, I64]:
    """Handoffs: queue, operator, replies, close, rating, FCR; some reopened later.

    Follow-up conversations (the ones that reopened a ticket) are numbered after the day's
    conversations; returns their start (us) and the conversation each one follows.
    """
    strings = out.strings
    m = conv.size
    ticket = day * 10_000_000 + 1 + np.arange(m, dtype=np.int64)
    who = rng.integers(len(OPERATORS), size=m)
    op_id = np.array([op.id for op in OPERATORS], dtype=np.int64)[who]
    speed = np.array([op.speed for op in OPERATORS])[who]
    quality = np.array([op.quality for op in OPERATORS])[who]
    name_code = strings.codes([op.name for op in OPERATORS])[who]
    name_json = _objects([_json({"operator": op.name}) for op in OPERATORS])[who]
    reason_code = strings.codes([str(r) for r in reason.tolist()])

    out.add(conv, at, EventKind.BOT_REPLY)
    out.add(
        conv,
        at,
        EventKind.HANDOFF,
        _objects([_json({"reason": r}) for r in reason.tolist()]),
        ticket=ticket,
        label=reason_code,
    )
    position = 1 + (hour_load * 3).astype(np.int64)
    out.add(
        conv,
        at,
        EventKind.QUEUED,
        _objects([f'{{"position":{p}}}' for p in position.tolist()]),
        ticket=ticket,
        value=position.astype(np.float64),
    )
    wait = rng.exponential(1.0, size=m) * 120 * hour_load**2 + 10
    at = at + wait
    out.add(
        conv,
        at,
        EventKind.TAKEN,
        _objects(
            [
                f'{{"operator":"{OPERATORS[w].name}","wait_s":{round(s, 3)}}}'
                for w, s in zip(who.tolist(), wait.tolist(), strict=True)
            ]
        ),
        ticket=ticket,
        operator=op_id,
        label=name_code,
    )
    at = at + rng.exponential(1.0, size=m) * 90 * speed + 15
    out.add(
        conv,
        at,
        EventKind.OPERATOR_REPLY,
        name_json,
        ticket=ticket,
        operator=op_id,
        label=name_code,
    )
    more = rng.integers(0, 3, size=m)
    for round_no in (0, 1):
        sel = np.nonzero(more > round_no)[0]
        at[sel] += rng.uniform(20, 300, size=sel.size)
        out.add(
            conv[sel],
            at[sel],
            EventKind.MESSAGE_RECEIVED,
            '{"text_len":40}',
            ticket=ticket[sel],
            value=40.0,
        )
        at[sel] += rng.exponential(1.0, size=sel.size) * 120 * speed[sel] + 10
        out.add(
            conv[sel],
            at[sel],
            EventKind.OPERATOR_REPLY,
            name_json[sel],
            ticket=ticket[sel],
            operator=op_id[sel],
            label=name_code[sel],
        )
    at = at + rng.uniform(60, 1200, size=m) * speed
    # Events from here on that fall after the end of the history are dropped by `finish`:
    # those tickets are still open.
    pairs = _ticket_categories(categories, articles)
    pick = (rng.random(m) * np.array([len(pairs[c]) for c in category])).astype(np.int64)
    chosen = [pairs[c][k] for c, k in zip(category.tolist(), pick.tolist(), strict=True)]
    cat_name = [c for c, _ in chosen]
    sub_name = [sb for _, sb in chosen]
    sub_code = np.array(
        [strings.code(sb) if sb is not None else NO_CODE for sb in sub_name], dtype=np.int32
    )
    cat_code = strings.codes(cat_name)
    closed_json = {
        (c, sb, again): _json(
            {
                "category": c,
                "subcategory": sb,
                "by": "operator",
                "solved_by_bot": False,
                "reopened": again,
            }
        )
        for c, sb in set(zip(cat_name, sub_name, strict=True))
        for again in (0, 1)
    }

    def close(conv: I64, at: F64, rows: I64, again: int, solved: npt.NDArray[np.bool_]) -> None:
        out.add(
            conv,
            at,
            EventKind.CLOSED,
            _objects([closed_json[(cat_name[r], sub_name[r], again)] for r in rows.tolist()]),
            ticket=ticket[rows],
            operator=op_id[rows],
            label=cat_code[rows],
            label2=sub_code[rows],
            value=float(again),
            flag=0,
        )
        out.add(conv, at, EventKind.RATING_REQUESTED, ticket=ticket[rows], operator=op_id[rows])
        rated = np.nonzero(rng.random(rows.size) < 0.45)[0]
        mood = (
            4.2
            + quality[rows[rated]]
            - np.minimum(wait[rows[rated]] / 1800, 1.5)
            + rng.normal(0, 0.9, size=rated.size)
        )
        score = np.clip(np.round(mood), 1, 5).astype(np.int64)
        out.add(
            conv[rated],
            at[rated] + rng.uniform(5, 600, size=rated.size),
            EventKind.RATING,
            _objects([f'{{"score":{k}}}' for k in score.tolist()]),
            ticket=ticket[rows[rated]],
            operator=op_id[rows[rated]],
            value=score.astype(np.float64),
        )
        out.add(
            conv,
            at + 1,
            EventKind.FCR,
            _objects(
                [
                    f'{{"solved":{"true" if x else "false"},"reopened":{again}}}'
                    for x in solved.tolist()
                ]
            ),
            ticket=ticket[rows],
            operator=op_id[rows],
            value=float(again),
            flag=solved.astype(np.int8),
        )

    rows = np.arange(m, dtype=np.int64)
    solved = rng.random(m) < 0.72 + quality / 4
    close(conv, at, rows, 0, solved)

    # Some users come back within the reopen grace period (more often when it was not
    # solved): their next message closes the old conversation and opens a new one, whose
    # handoff reopens the same ticket; the desk records it under the new conversation.
    again = np.nonzero(rng.random(m) < np.where(solved, 0.02, 0.12))[0]
    back = at[again] + rng.uniform(120, 1500, size=again.size)
    out.add(
        conv[again],
        back,
        EventKind.CONVERSATION_CLOSED,
        '{"outcome":"handoff"}',
        ticket=ticket[again],
        label=strings.code("handoff"),
    )
    # The others write again some hours later, if at all: only then does the engine close
    # the handed-off conversation (this must not count as its resolution).
    later = np.setdiff1d(rows, again)
    later = later[rng.random(later.size) < 0.5]
    out.add(
        conv[later],
        at[later] + 600 + np.minimum(rng.exponential(6 * 3600, size=later.size), _LATEST_CLOSE),
        EventKind.CONVERSATION_CLOSED,
        '{"outcome":"handoff"}',
        ticket=ticket[later],
        label=strings.code("handoff"),
    )
    follow_t0 = t0[conv[again]] + np.round(back * 1e6).astype(np.int64)
    follow = np.arange(again.size, dtype=np.int64) + t0.size
    text = [_PERSON_AGAIN[0 if r else 1] for r in ru[again].tolist()]
    zero = np.zeros(again.size)
    out.received(follow, zero, text, ["ru" if r else "en" for r in ru[again].tolist()])
    out.add(follow, zero + 1, EventKind.BOT_REPLY)
    out.add(
        follow,
        zero + 1,
        EventKind.HANDOFF,
        '{"reason":"user_asked"}',
        ticket=ticket[again],
        label=strings.code("user_asked"),
    )
    # The operator who closed it gets it back at once.
    out.add(
        follow,
        zero + 1,
        EventKind.TAKEN,
        _objects([f'{{"operator":"{OPERATORS[w].name}","wait_s":0.0}}' for w in who[again]]),
        ticket=ticket[again],
        operator=op_id[again],
        label=name_code[again],
    )
    reply = 1 + rng.exponential(1.0, size=again.size) * 60 * speed[again] + 10
    out.add(
        follow,
        reply,
        EventKind.OPERATOR_REPLY,
        name_json[again],
        ticket=ticket[again],
        operator=op_id[again],
        label=name_code[again],
    )
    done = reply + rng.uniform(60, 600, size=again.size) * speed[again]
    close(follow, done, again, 1, rng.random(again.size) < 0.8)
    return follow_t0, conv[again]
