"""The demo history: what a newcomer's first report is made from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from supportbot.analytics.report import build_report, report_to_dict
from supportbot.analytics.table import NO_CODE, EventColumns
from supportbot.commands.demo_data import fill
from supportbot.demo.history import (
    OPERATORS,
    demo_day,
    load_demo_articles,
    rising_category,
)
from supportbot.domain.events import EventKind
from supportbot.storage.event_store import DuckDbEventStore
from supportbot.storage.events import SqliteEventSource, event_store_path

KB = Path(__file__).resolve().parents[1] / "knowledge_base"
END = datetime(2024, 6, 1, tzinfo=UTC)


def _decoded(cols: EventColumns, name: str) -> list[str | None]:
    return [None if c == NO_CODE else cols.strings[c] for c in getattr(cols, name).tolist()]


def test_demo_day_columns_are_what_its_events_encode_to() -> None:
    batch = demo_day(
        3,
        days=10,
        per_day=400,
        end=END,
        articles=load_demo_articles(KB),
        experiments={"suggestions": {"A": 0.5, "B": 0.5}},
    )
    events = batch.events()
    again = EventColumns.from_events(events, range(len(events)))
    cols = batch.columns
    for name in ("kind", "article", "label", "label2", "items", "arms"):
        assert _decoded(cols, name) == _decoded(again, name), name
    for name in ("ts", "conversation", "user", "ticket", "operator", "flag"):
        assert np.array_equal(getattr(cols, name), getattr(again, name)), name
    assert np.array_equal(cols.value, again.value, equal_nan=True)
    assert all(a.ts <= b.ts for a, b in pairwise(events))


def test_demo_day_records_operator_names_and_reopened_tickets() -> None:
    events = demo_day(5, days=10, per_day=2000, end=END, articles=load_demo_articles(KB)).events()
    names = {op.id: op.name for op in OPERATORS}
    replies = [e for e in events if e.kind in {EventKind.TAKEN, EventKind.OPERATOR_REPLY}]
    assert replies
    assert all(e.data["operator"] == names[e.operator_id or 0] for e in replies)
    closed = [e for e in events if e.kind is EventKind.CLOSED]
    assert all(e.data["reopened"] in (0, 1) for e in closed)
    reopened = [e for e in closed if e.data["reopened"]]
    assert reopened
    # A reopened ticket's events live under the conversation that reopened it.
    first = {e.ticket_id: e.conversation_id for e in reversed(closed)}
    assert all(first[e.ticket_id] != e.conversation_id for e in reopened)


@pytest.mark.parametrize(
    ("categories", "rising"),
    [
        (
            [
                "account",
                "ads",
                "groups",
                "notifications",
                "payments",
                "privacy",
                "profile",
                "purchases",
                "uploads",
            ],
            "uploads",
        ),
        (["payments", "account", "delivery", "orders", "technical"], "delivery"),
        (["zebra", "apples"], "apples"),
    ],
)
def test_rising_category_is_one_the_knowledge_base_has(categories: list[str], rising: str) -> None:
    assert rising_category(categories) == rising


async def test_demo_data_rise_shows_in_a_30_day_report(tmp_path: Path) -> None:
    articles = load_demo_articles(KB)
    assert {a.category for a in articles} >= {"uploads", "payments", "privacy"}
    db_path = tmp_path / "demo.sqlite3"
    await fill(db_path, days=60, per_day=300, end=END, articles=articles, experiments={})
    store = DuckDbEventStore(event_store_path(db_path))
    try:
        assert store.sync(SqliteEventSource(db_path)) == 0  # demo-data filled it already
        report = await build_report(store, END - timedelta(days=30), END, tz=UTC)
    finally:
        store.close()
    d = report_to_dict(report)
    cats = {c["category"]: c for c in d["categories"]}
    rising = cats[rising_category(list(cats))]
    assert rising["category"] == "uploads"
    assert rising["change_rate"] > 0.5  # clearly up on the previous 30 days
    others = [c["change_rate"] for name, c in cats.items() if name != "uploads"]
    assert max(others) < 0.2  # nothing else rises like it
    assert max(cats.values(), key=lambda c: c["change_rate"]) is rising
    assert {o["name"] for o in d["operators"]} == {op.name for op in OPERATORS}
    assert d["content_gap_messages"] > 0


def test_demo_history_is_in_time_order_across_days_and_loses_nothing() -> None:
    articles = load_demo_articles(KB)
    days = [
        demo_day(d, days=6, per_day=1500, end=END, articles=articles).events() for d in range(6)
    ]
    flat = [e for day in days for e in day]
    assert all(a.ts <= b.ts for a, b in pairwise(flat))
    assert max(e.ts for e in flat) < END
    # Late events of a day's conversations come with the next day, none twice, none lost.
    by_conversation: dict[str, int] = {}
    for e in flat:
        by_conversation[e.conversation_id] = by_conversation.get(e.conversation_id, 0) + 1
    spilled = {
        e.conversation_id
        for d, day in enumerate(days[1:], start=1)
        for e in day
        if not e.conversation_id.startswith(f"demo-{d}-")
    }
    assert spilled  # tickets open past midnight, users writing again the next day
    closes = [e for e in flat if e.kind is EventKind.CONVERSATION_CLOSED]
    assert len({(e.conversation_id, e.ts) for e in closes}) == len(closes)
    assert all(n >= 2 for n in by_conversation.values())


def test_demo_tickets_close_with_the_configured_desk_categories() -> None:
    desk = {
        "payments": ["card declined", "transfers", "refunds"],
        "account": ["login", "hacked", "two-factor"],
        "content": ["uploads", "groups", "ads"],
        "privacy": ["blocking", "reports", "visibility"],
        "other": [],
    }
    articles = load_demo_articles(KB, desk)
    events = demo_day(2, days=5, per_day=1500, end=END, articles=articles).events()
    closed = [e for e in events if e.kind is EventKind.CLOSED and "category" in e.data]
    assert closed
    pairs = {(e.data["category"], e.data["subcategory"]) for e in closed}
    for category, subcategory in pairs:
        assert category in desk
        assert subcategory in desk[category] if desk[category] else subcategory is None
    # Every subcategory the desk offers for a category the knowledge base has shows up.
    assert {sub for cat, sub in pairs if cat == "content"} == {"uploads", "groups", "ads"}
    assert any(sub is not None for _, sub in pairs)
