"""The desk side of a demo day: queue, operators, replies, closes, ratings, reopened tickets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportbot.analytics.table import (
    NO_CODE,
)
from supportbot.demo.builder import Day, object_array, to_json
from supportbot.demo.catalog import (
    _LATEST_CLOSE,
    _PERSON_AGAIN,
    SUBCATEGORIES,
    DemoArticle,
)
from supportbot.domain.events import EventKind

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


def desk_side(
    out: Day,
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
    name_json = object_array([to_json({"operator": op.name}) for op in OPERATORS])[who]
    reason_code = strings.codes([str(r) for r in reason.tolist()])

    out.add(conv, at, EventKind.BOT_REPLY)
    out.add(
        conv,
        at,
        EventKind.HANDOFF,
        object_array([to_json({"reason": r}) for r in reason.tolist()]),
        ticket=ticket,
        label=reason_code,
    )
    position = 1 + (hour_load * 3).astype(np.int64)
    out.add(
        conv,
        at,
        EventKind.QUEUED,
        object_array([f'{{"position":{p}}}' for p in position.tolist()]),
        ticket=ticket,
        value=position.astype(np.float64),
    )
    wait = rng.exponential(1.0, size=m) * 120 * hour_load**2 + 10
    at = at + wait
    out.add(
        conv,
        at,
        EventKind.TAKEN,
        object_array(
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
        (c, sb, again): to_json(
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
            object_array([closed_json[(cat_name[r], sub_name[r], again)] for r in rows.tolist()]),
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
            object_array([f'{{"score":{k}}}' for k in score.tolist()]),
            ticket=ticket[rows[rated]],
            operator=op_id[rows[rated]],
            value=score.astype(np.float64),
        )
        out.add(
            conv,
            at + 1,
            EventKind.FCR,
            object_array(
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
        object_array([f'{{"operator":"{OPERATORS[w].name}","wait_s":0.0}}' for w in who[again]]),
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
