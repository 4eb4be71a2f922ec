""" "Rewrite these first": ranked by the harm an article does, with titles and numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from supportbot.analytics.render import to_markdown
from supportbot.analytics.report import KnownArticle, build_report
from supportbot.domain.events import Event, EventKind
from supportbot.storage.event_store import DuckDbEventStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)


def _shown(conv: str, at: datetime, article: str, *, helpful: bool, handoff: bool) -> list[Event]:
    events = [
        Event(at, EventKind.MESSAGE_RECEIVED, conv, 1),
        Event(
            at + timedelta(seconds=1),
            EventKind.SUGGESTION_SHOWN,
            conv,
            1,
            data={"articles": [article]},
        ),
        Event(
            at + timedelta(seconds=30),
            EventKind.FEEDBACK,
            conv,
            1,
            article_id=article,
            data={"helpful": helpful},
        ),
    ]
    if handoff:
        events.append(
            Event(
                at + timedelta(seconds=40),
                EventKind.HANDOFF,
                conv,
                1,
                data={"reason": "not_helpful"},
            )
        )
    return events


def _history() -> list[Event]:
    """Popular: shown 400 times, 86% helpful; poor: shown 60 times, 23% helpful."""
    events: list[Event] = []
    for i in range(400):
        bad = i % 100 < 14
        events += _shown(
            f"p{i}", T0 + timedelta(minutes=i), "popular", helpful=not bad, handoff=bad
        )
    for i in range(60):
        bad = i % 100 >= 23 * 60 // 100
        events += _shown(
            f"q{i}", T0 + timedelta(minutes=i, seconds=5), "poor", helpful=not bad, handoff=bad
        )
    for i in range(3):  # rare and unlucky: too few showings to top the list
        events += _shown(
            f"r{i}", T0 + timedelta(minutes=i, seconds=9), "rare", helpful=False, handoff=True
        )
    return events


async def test_report_articles_ranked_by_harm_not_volume_with_titles() -> None:
    store = DuckDbEventStore()
    store.append_many(_history())
    known = {
        "popular": KnownArticle("How to pay", "How to pay"),
        "poor": KnownArticle("Refund status", "Refund status"),
    }
    report = await build_report(store, T0, T0 + timedelta(days=1), tz=UTC, articles=known)
    ranked = report.current.articles
    assert ranked[0].article_id == "poor"
    assert ranked[0].title == "Refund status"
    by_id = {a.article_id: a for a in ranked}
    assert by_id["popular"].harm < 0 < by_id["rare"].harm < by_id["poor"].harm
    text = to_markdown(report)
    section = text.split("## Articles")[1].split("##")[0]
    assert "| Refund status (poor) |" in section
    assert "How to pay" not in section  # better than average: nothing to rewrite
    assert section.index("Refund status") < section.index("rare")
