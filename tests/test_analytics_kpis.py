"""Every KPI checked exactly against a scripted history with known timings and outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from supportbot.analytics.headline import format_headline, format_stats, headline
from supportbot.analytics.kpis import compute_period
from supportbot.analytics.report import build_report, report_to_dict
from supportbot.analytics.table import columns_from
from supportbot.domain.events import Event, EventKind
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.storage.event_store import DuckDbEventStore

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
K = EventKind


def _ev(conv: str, at: datetime, kind: EventKind, **kw: Any) -> Event:
    return Event(at, kind, conv, user_id=hash(conv) % 1000, **kw)


def _s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def history(t0: datetime = T0, prefix: str = "") -> list[Event]:
    """Five conversations in the period, one before, one after (see the expected figures)."""
    if prefix:
        return [
            Event(
                e.ts,
                e.kind,
                prefix + e.conversation_id,
                e.user_id,
                e.ticket_id,
                e.operator_id,
                e.article_id,
                e.data,
                e.arms,
            )
            for e in history(t0)
        ]
    a, b, c, d, g = t0, t0 + _s(3600), t0 + _s(7200), t0 + _s(10800), t0 + _s(14400)
    return [
        # A: self-service through article a1.
        _ev("A", a, K.MESSAGE_RECEIVED, data={"lang": "en"}),
        _ev("A", a + _s(2), K.SUGGESTION_SHOWN, data={"articles": ["a1"]}),
        _ev("A", a + _s(10), K.ARTICLE_OPENED, article_id="a1"),
        _ev("A", a + _s(30), K.FEEDBACK, article_id="a1", data={"helpful": True}),
        _ev("A", a + _s(31), K.CONVERSATION_CLOSED, data={"outcome": "self_service"}),
        # B: nothing confident -> operator 7, two replies, closed, rated 5, solved.
        _ev("B", b, K.MESSAGE_RECEIVED),
        _ev(
            "B",
            b + _s(1),
            K.DECISION,
            data={
                "decision": "handoff",
                "confidence": 0.1,
                "text": "can I pay with bitcoin? a@b.com",
            },
        ),
        _ev("B", b + _s(1), K.BOT_REPLY),
        _ev("B", b + _s(1), K.HANDOFF, ticket_id=1, data={"reason": "low_confidence"}),
        _ev("B", b + _s(1), K.QUEUED, ticket_id=1, data={"position": 1}),
        _ev("B", b + _s(61), K.TAKEN, ticket_id=1, operator_id=7),
        _ev("B", b + _s(121), K.OPERATOR_REPLY, ticket_id=1, operator_id=7),
        _ev("B", b + _s(200), K.MESSAGE_RECEIVED, ticket_id=1),
        _ev("B", b + _s(260), K.OPERATOR_REPLY, ticket_id=1, operator_id=7),
        _ev("B", b + _s(270), K.OPERATOR_REPLY, ticket_id=1, operator_id=7),  # no new input
        _ev(
            "B",
            b + _s(600),
            K.CLOSED,
            ticket_id=1,
            operator_id=7,
            data={"category": "payments", "subcategory": "card"},
        ),
        _ev("B", b + _s(600), K.RATING_REQUESTED, ticket_id=1),
        _ev("B", b + _s(601), K.FCR, ticket_id=1, data={"solved": True}),
        _ev("B", b + _s(700), K.RATING, ticket_id=1, data={"score": 5}),
        # C: a2 did not help -> operator 8, still open.
        _ev("C", c, K.MESSAGE_RECEIVED),
        _ev("C", c + _s(3), K.SUGGESTION_SHOWN, data={"articles": ["a2"]}),
        _ev("C", c + _s(20), K.FEEDBACK, article_id="a2", data={"helpful": False}),
        _ev("C", c + _s(21), K.HANDOFF, ticket_id=2, data={"reason": "not_helpful"}),
        _ev("C", c + _s(21), K.QUEUED, ticket_id=2),
        _ev("C", c + _s(321), K.TAKEN, ticket_id=2, operator_id=8),
        _ev("C", c + _s(421), K.OPERATOR_REPLY, ticket_id=2, operator_id=8),
        # D: user asked for a person -> operator 7, closed, rated 2, not solved.
        _ev("D", d, K.MESSAGE_RECEIVED),
        _ev("D", d + _s(5), K.BOT_REPLY),
        _ev("D", d + _s(10), K.HANDOFF, ticket_id=3, data={"reason": "user_asked"}),
        _ev("D", d + _s(10), K.QUEUED, ticket_id=3),
        _ev("D", d + _s(20), K.TAKEN, ticket_id=3, operator_id=7),
        _ev("D", d + _s(40), K.OPERATOR_REPLY, ticket_id=3, operator_id=7),
        _ev(
            "D",
            d + _s(1000),
            K.CLOSED,
            ticket_id=3,
            operator_id=7,
            data={"category": "payments", "subcategory": "refund"},
        ),
        _ev("D", d + _s(1000), K.RATING_REQUESTED, ticket_id=3),
        _ev("D", d + _s(1001), K.FCR, ticket_id=3, data={"solved": False}),
        _ev("D", d + _s(1100), K.RATING, ticket_id=3, data={"score": 2}),
        # G: shown a1, then abandoned.
        _ev("G", g, K.MESSAGE_RECEIVED),
        _ev("G", g + _s(2), K.SUGGESTION_SHOWN, data={"articles": ["a1"]}),
        _ev("G", g + _s(100), K.CONVERSATION_CLOSED, data={"outcome": "abandoned"}),
        # E began before the period (not counted even though it ends inside it).
        _ev("E", t0 - _s(3600), K.MESSAGE_RECEIVED),
        _ev("E", t0 + _s(50), K.MESSAGE_RECEIVED),
        _ev("E", t0 + _s(60), K.CONVERSATION_CLOSED, data={"outcome": "self_service"}),
        # F began after the period.
        _ev("F", t0 + DAY + _s(60), K.MESSAGE_RECEIVED),
        _ev("F", t0 + DAY + _s(61), K.CONVERSATION_CLOSED, data={"outcome": "self_service"}),
    ]


def test_compute_period_every_kpi_exact() -> None:
    stats = compute_period(columns_from(history()), T0, T0 + DAY, UTC)
    s = stats.summary
    assert s.conversations == 5
    assert s.bot_first_response_median_s == 2.0
    assert s.bot_first_response_p90_s == pytest.approx(4.2)
    assert s.first_response_median_s == 120.0
    assert s.first_response_p90_s == pytest.approx(344.0)
    assert s.operator_response_median_s == 90.0  # 30, 60, 120, 400
    assert s.resolution_median_s == 600.0  # 31, 600, 1000
    assert (s.resolved, s.open_conversations) == (3, 1)
    assert (s.tickets, s.open_tickets) == (3, 1)
    assert s.csat == 0.5
    assert s.ratings == 2
    assert s.rating_response_rate == 1.0
    assert s.fcr == 0.5
    assert s.deflection == pytest.approx(0.2)
    assert s.handoffs == 3
    assert s.handoff_rate == pytest.approx(0.6)
    assert s.handoff_reasons == {"low_confidence": 1, "not_helpful": 1, "user_asked": 1}
    assert s.queue_wait_median_s == 60.0
    assert s.queue_wait_p90_s == pytest.approx(252.0)
    assert s.waiting_in_queue == 0


def test_compute_period_operators_articles_categories() -> None:
    stats = compute_period(columns_from(history()), T0, T0 + DAY, UTC)
    ops = {o.operator_id: o for o in stats.operators}
    assert ops[7].tickets == 2
    assert ops[7].first_response_median_s == 75.0  # 120 (B), 30 (D)
    assert ops[7].first_response_p90_s == pytest.approx(111.0)
    assert ops[7].response_median_s == 60.0  # 120, 60 (B), 30 (D)
    assert ops[7].resolution_median_s == 800.0
    assert ops[7].csat == 0.5
    assert ops[7].ratings == 2
    assert ops[7].rating_response_rate == 1.0
    assert ops[7].fcr == 0.5
    assert ops[7].name == "7"  # no name recorded: the id stands in
    assert ops[8].tickets == 1
    assert ops[8].first_response_median_s == 400.0
    assert ops[8].first_response_p90_s == 400.0
    assert ops[8].resolution_median_s is None
    assert ops[8].csat is None
    assert ops[8].rating_response_rate is None
    assert ops[8].fcr is None
    arts = {a.article_id: a for a in stats.articles}
    assert (arts["a1"].shown, arts["a1"].opened, arts["a1"].helpful) == (2, 1, 1)
    assert (arts["a1"].not_helpful, arts["a1"].handoff_after) == (0, 0)
    assert (arts["a2"].shown, arts["a2"].not_helpful, arts["a2"].handoff_after) == (1, 1, 1)
    assert stats.articles[0].article_id == "a2"  # the one to rewrite first
    assert arts["a2"].helpful_rate == 0.0
    assert arts["a1"].helpful_rate == 1.0
    assert stats.categories == {("payments", "card"): 1, ("payments", "refund"): 1}
    assert stats.gap_event_ids.size == 1


def test_compute_period_empty_is_none_not_zero() -> None:
    s = compute_period(columns_from([]), T0, T0 + DAY, UTC).summary
    assert s.conversations == 0
    for value in (
        s.first_response_median_s,
        s.first_response_p90_s,
        s.bot_first_response_median_s,
        s.resolution_median_s,
        s.csat,
        s.fcr,
        s.deflection,
        s.handoff_rate,
        s.rating_response_rate,
        s.queue_wait_median_s,
        s.operator_response_median_s,
    ):
        assert value is None
    later = compute_period(columns_from(history()), T0 + 3 * DAY, T0 + 4 * DAY, UTC).summary
    assert later.conversations == 0
    assert later.csat is None


def test_compute_period_counts_only_what_was_known_at_its_end() -> None:
    # The period ends 300 s into B: B is handed off but not yet answered or closed.
    until = T0 + _s(3600 + 300)
    s = compute_period(columns_from(history()), T0, until, UTC).summary
    assert s.conversations == 2
    assert s.open_tickets == 1
    assert s.first_response_median_s == 120.0
    assert s.resolution_median_s == 31.0
    assert s.csat is None


def test_compute_period_days_and_hours_in_local_time() -> None:
    moscow = ZoneInfo("Europe/Moscow")  # UTC+3
    late = datetime(2024, 3, 4, 22, 30, tzinfo=UTC)  # 01:30 on the 5th in Moscow
    events = [_ev("X", late, K.MESSAGE_RECEIVED), _ev("Y", late - _s(7200), K.MESSAGE_RECEIVED)]
    stats = compute_period(columns_from(events), late - DAY, late + DAY, moscow)
    assert [d for d, *_ in stats.daily] == ["2024-03-04", "2024-03-05"]
    assert stats.hourly_conversations[1] == 1
    assert stats.hourly_conversations[23] == 1


def test_compute_period_same_results_for_any_input_time_zone() -> None:
    shifted = [
        Event(
            e.ts.astimezone(ZoneInfo("America/New_York")),
            e.kind,
            e.conversation_id,
            e.user_id,
            e.ticket_id,
            e.operator_id,
            e.article_id,
            e.data,
            e.arms,
        )
        for e in history()
    ]
    a = compute_period(columns_from(history()), T0, T0 + DAY, UTC).summary
    b = compute_period(columns_from(shifted), T0, T0 + DAY, UTC).summary
    assert a == b


def test_compute_period_hourly_load_is_time_weighted() -> None:
    # One ticket taken at 10:00 and closed at 10:30, one taken 10:15 and left open.
    t = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    events = [
        _ev("P", t - _s(10), K.MESSAGE_RECEIVED),
        _ev("P", t - _s(5), K.HANDOFF, data={"reason": "user_asked"}),
        _ev("P", t - _s(5), K.QUEUED),
        _ev("P", t, K.TAKEN, operator_id=1),
        _ev("P", t + _s(1800), K.CLOSED, data={"category": "x"}),
        _ev("Q", t + _s(890), K.MESSAGE_RECEIVED),
        _ev("Q", t + _s(895), K.HANDOFF, data={"reason": "user_asked"}),
        _ev("Q", t + _s(895), K.QUEUED),
        _ev("Q", t + _s(900), K.TAKEN, operator_id=2),
    ]
    day = datetime(2024, 3, 4, tzinfo=UTC)
    stats = compute_period(columns_from(events), day, day + DAY, UTC)
    assert stats.hourly_load[10] == pytest.approx(0.5 + 0.75)
    assert stats.hourly_load[11] == pytest.approx(1.0)
    assert stats.hourly_load[9] == 0.0


async def test_build_report_compares_with_previous_period_and_finds_gaps() -> None:
    log = DuckDbEventStore()
    log.append_many(history(T0 - DAY, prefix="prev-") + history(T0))
    log.append_many(
        [
            _ev("Z", T0 + _s(50_000), K.MESSAGE_RECEIVED),
            _ev("Z", T0 + _s(50_001), K.HANDOFF, data={"reason": "user_asked"}),
            _ev("Z", T0 + _s(50_900), K.CLOSED, data={"category": "delivery"}),
        ]
    )
    emb = HashingEmbedder()
    report = await build_report(
        log, T0, T0 + DAY, tz=UTC, embed=lambda t: emb.embed(t, query=True)
    )
    d = report_to_dict(report)
    # Current: A B C D G, Z and prev-F (which began just after T0); previous: prev-A..G, E.
    assert d["conversations"] == 7
    assert d["previous"]["conversations"] == 6
    cats = {c["category"]: c for c in d["categories"]}
    assert (cats["payments"]["tickets"], cats["payments"]["previous"]) == (2, 2)
    assert cats["payments"]["change_rate"] == 0.0
    assert (cats["delivery"]["change"], cats["delivery"]["change_rate"]) == (1, None)
    assert d["content_gap_messages"] == 1
    assert d["content_gaps"][0]["size"] == 1
    assert d["content_gaps"][0]["examples"] == ["can I pay with bitcoin? [email]"]
    assert d["handoff_reasons"]["user_asked"] == {"count": 2, "share": 0.5}
    for key in (
        "period",
        "conversations",
        "first_response_median_s",
        "first_response_p90_s",
        "resolution_median_s",
        "csat",
        "fcr",
        "deflection",
        "handoff_rate",
        "handoff_reasons",
        "categories",
        "articles",
        "content_gaps",
    ):
        assert key in d


async def test_build_report_empty_log() -> None:
    report = await build_report(DuckDbEventStore(), T0, T0 + DAY, tz=UTC)
    d = report_to_dict(report)
    assert d["conversations"] == 0
    assert d["csat"] is None
    assert d["content_gaps"] == []
    assert d["articles"] == []


def test_headline_numbers_and_texts() -> None:
    h = headline(history(), since=T0, until=T0 + DAY)
    assert h.conversations == 5
    assert h.first_response_median_s == 120.0
    assert h.csat == 0.5
    en = format_headline(h, "en")
    ru = format_headline(h, "ru")
    assert "Conversations: 5" in en
    assert "CSAT (share of 4-5): 50%" in en
    assert "Обращений: 5" in ru
    assert "2 min" in en
    assert "Сегодня" in format_stats(h, h, "ru")
    empty = headline([], since=T0, until=T0 + DAY)
    assert "—" in format_headline(empty, "en")


def test_daily_series_sums_to_conversations() -> None:
    stats = compute_period(columns_from(history()), T0, T0 + DAY, UTC)
    assert sum(c for _, c, _, _ in stats.daily) == 5
    assert sorted(stats.first_response_s.tolist()) == [30.0, 120.0, 400.0]


def test_compute_period_hourly_load_survives_many_tickets() -> None:
    # Sums of epoch microseconds over many tickets overflow int64; the load must not.
    t = datetime(2024, 3, 4, 0, 0, tzinfo=UTC)
    events: list[Event] = []
    for i in range(20_000):
        conv = f"L{i}"
        at = t + _s(i)
        events += [
            _ev(conv, at, K.MESSAGE_RECEIVED),
            _ev(conv, at, K.HANDOFF, data={"reason": "user_asked"}),
            _ev(conv, at, K.TAKEN, operator_id=1),
            _ev(conv, at + _s(600), K.CLOSED, data={"category": "x"}),
        ]
    stats = compute_period(columns_from(events), t, t + DAY, UTC)
    loads = [load for load in stats.hourly_load if load is not None]
    assert all(0.0 <= load <= 600.0 for load in loads)
    # 20,000 tickets x 600 s open = 2,000 s/s ... over hours 0-5: total ticket-hours exact.
    assert sum(loads) == pytest.approx(20_000 * 600 / 3600)
    # Nothing began or was open from 06:00 on: no data, not a made-up 0.
    assert stats.hourly_load[6:] == [None] * 18


def _desk_ticket(
    conv: str, at: datetime, ticket: int, operator: int, name: str, closed_after: float
) -> list[Event]:
    """A handoff the desk took at once and an operator closed `closed_after` s later."""
    return [
        _ev(conv, at, K.MESSAGE_RECEIVED),
        _ev(conv, at + _s(1), K.HANDOFF, ticket_id=ticket, data={"reason": "user_asked"}),
        _ev(conv, at + _s(1), K.QUEUED, ticket_id=ticket),
        _ev(
            conv,
            at + _s(31),
            K.TAKEN,
            ticket_id=ticket,
            operator_id=operator,
            data={"operator": name},
        ),
        _ev(
            conv,
            at + _s(61),
            K.OPERATOR_REPLY,
            ticket_id=ticket,
            operator_id=operator,
            data={"operator": name},
        ),
        _ev(
            conv,
            at + _s(closed_after),
            K.CLOSED,
            ticket_id=ticket,
            operator_id=operator,
            data={"category": "payments", "by": "operator", "solved_by_bot": False, "reopened": 0},
        ),
    ]


def test_compute_period_resolution_ends_at_the_ticket_close_not_the_late_conversation_close() -> (
    None
):
    events = [
        # H1: the desk closed the ticket after 900 s; the user wrote again 5 h later, and
        # only then did the engine close the conversation (outcome handoff).
        *_desk_ticket("H1", T0, 11, 7, "Anna", 900),
        _ev(
            "H1",
            T0 + _s(5 * 3600),
            K.CONVERSATION_CLOSED,
            ticket_id=11,
            data={"outcome": "handoff"},
        ),
        # H2: handed off with no desk behind it: no ticket, never resolved.
        _ev("H2", T0 + _s(100), K.MESSAGE_RECEIVED),
        _ev("H2", T0 + _s(101), K.HANDOFF, data={"reason": "low_confidence"}),
        _ev("H2", T0 + _s(7300), K.CONVERSATION_CLOSED, data={"outcome": "handoff"}),
        # H3: self-service, resolved when the conversation closed.
        _ev("H3", T0 + _s(200), K.MESSAGE_RECEIVED),
        _ev("H3", T0 + _s(202), K.SUGGESTION_SHOWN, data={"articles": ["a1"]}),
        _ev("H3", T0 + _s(230), K.FEEDBACK, article_id="a1", data={"helpful": True}),
        _ev("H3", T0 + _s(240), K.CONVERSATION_CLOSED, data={"outcome": "self_service"}),
        # H4: waiting in the queue, an article solved it: the user withdrew the ticket.
        _ev("H4", T0 + _s(300), K.MESSAGE_RECEIVED),
        _ev("H4", T0 + _s(301), K.HANDOFF, ticket_id=12, data={"reason": "not_helpful"}),
        _ev("H4", T0 + _s(301), K.QUEUED, ticket_id=12),
        _ev(
            "H4",
            T0 + _s(500),
            K.CLOSED,
            ticket_id=12,
            data={"by": "user", "solved_by_bot": True, "reopened": 0},
        ),
        _ev("H4", T0 + _s(500), K.FEEDBACK, article_id="a1", data={"helpful": True}),
        _ev("H4", T0 + _s(501), K.CONVERSATION_CLOSED, data={"outcome": "self_service"}),
    ]
    for until in (T0 + _s(3600), T0 + DAY):  # before and after the late closes
        s = compute_period(columns_from(events), T0, until, UTC).summary
        assert s.conversations == 4
        assert s.resolution_median_s == 200.0  # 900 (H1), 40 (H3), 200 (H4); not 5 h
        assert s.resolved == 3
        assert (s.tickets, s.open_tickets) == (2, 0)  # H1, H4; H2 had no desk
        assert s.handoffs == 3
        assert s.deflection == 0.5  # H3 and H4: solved by an article, no person
        assert s.waiting_in_queue == 1  # H4 was never taken
    per_conv = compute_period(columns_from(events), T0, T0 + DAY, UTC).per_conversation
    assert np.isnan(per_conv["resolution_s"]).sum() == 1  # H2: unresolved, not 0
    assert sorted(per_conv["resolution_s"][~np.isnan(per_conv["resolution_s"])]) == [
        40.0,
        200.0,
        900.0,
    ]


def _reopened_history(*, with_counter: bool) -> list[Event]:
    """Ticket 21: closed in A, reopened by the user from B (the desk moved it to B)."""
    again = {"reopened": 1} if with_counter else {}
    events = _desk_ticket("A", T0, 21, 7, "Anna", 300)
    events += [
        _ev(
            "A",
            T0 + _s(301),
            K.FCR,
            ticket_id=21,
            operator_id=7,
            data={"solved": True, "reopened": 0},
        ),
        _ev("A", T0 + _s(900), K.CONVERSATION_CLOSED, ticket_id=21, data={"outcome": "handoff"}),
        _ev("B", T0 + _s(900), K.MESSAGE_RECEIVED),
        _ev("B", T0 + _s(901), K.HANDOFF, ticket_id=21, data={"reason": "user_asked"}),
        _ev("B", T0 + _s(901), K.TAKEN, ticket_id=21, operator_id=7, data={"operator": "Anna"}),
        _ev("B", T0 + _s(1000), K.OPERATOR_REPLY, ticket_id=21, operator_id=7),
        _ev(
            "B",
            T0 + _s(1500),
            K.CLOSED,
            ticket_id=21,
            operator_id=7,
            data={"category": "payments", "by": "operator", "solved_by_bot": False, **again},
        ),
        _ev(
            "B", T0 + _s(1501), K.FCR, ticket_id=21, operator_id=7, data={"solved": True, **again}
        ),
        # C: an ordinary ticket solved at first contact.
        *_desk_ticket("C", T0 + _s(2000), 22, 8, "Boris", 2600),
        _ev(
            "C",
            T0 + _s(4601),
            K.FCR,
            ticket_id=22,
            operator_id=8,
            data={"solved": True, "reopened": 0},
        ),
    ]
    return events


@pytest.mark.parametrize("with_counter", [True, False])
def test_compute_period_reopened_ticket_counts_per_conversation_and_not_as_first_contact(
    with_counter: bool,
) -> None:
    stats = compute_period(
        columns_from(_reopened_history(with_counter=with_counter)), T0, T0 + DAY, UTC
    )
    s = stats.summary
    assert s.conversations == 3
    assert (s.tickets, s.open_tickets) == (3, 0)  # A, B and C, each by its own events
    assert s.resolution_median_s == 600.0  # A 300, B 1500 - 900, C 2600
    assert s.first_response_median_s == 60.0  # A 60, B 99, C 60
    assert s.queue_wait_median_s == 30.0  # A and C; B was taken without queueing
    assert s.fcr == pytest.approx(1 / 3)  # only C: A had to come back, B is the reopen
    ops = {o.operator_id: o for o in stats.operators}
    assert (ops[7].tickets, ops[7].fcr) == (2, 0.0)
    assert (ops[8].tickets, ops[8].fcr) == (1, 1.0)


def test_compute_period_fcr_is_what_was_known_at_the_end_of_the_period() -> None:
    # The period ends before the user came back: A still counts as solved at first contact.
    s = compute_period(
        columns_from(_reopened_history(with_counter=True)), T0, T0 + _s(800), UTC
    ).summary
    assert (s.conversations, s.fcr) == (1, 1.0)


def test_compute_period_operators_by_latest_name_with_every_kpi() -> None:
    events = _desk_ticket("O1", T0, 31, 7, "Ann", 600)
    events += _desk_ticket("O2", T0 + _s(3600), 32, 7, "Anna", 1200)
    events += [
        _ev("O1", T0 + _s(600), K.RATING_REQUESTED, ticket_id=31, operator_id=7),
        _ev("O1", T0 + _s(601), K.FCR, ticket_id=31, operator_id=7, data={"solved": True}),
        _ev("O1", T0 + _s(700), K.RATING, ticket_id=31, operator_id=7, data={"score": 5}),
        _ev("O2", T0 + _s(4800), K.RATING_REQUESTED, ticket_id=32, operator_id=7),
        _ev("O2", T0 + _s(4801), K.FCR, ticket_id=32, operator_id=7, data={"solved": False}),
    ]
    (op,) = compute_period(columns_from(events), T0, T0 + DAY, UTC).operators
    assert (op.operator_id, op.name, op.tickets) == (7, "Anna", 2)
    assert (op.first_response_median_s, op.first_response_p90_s) == (60.0, 60.0)
    assert op.response_median_s == 60.0
    assert op.resolution_median_s == 900.0
    assert (op.csat, op.ratings, op.rating_response_rate) == (1.0, 1, 0.5)
    assert op.fcr == 0.5


def test_compute_period_hourly_load_is_null_outside_the_period_and_when_empty() -> None:
    events = _desk_ticket("P", T0, 41, 7, "Anna", 1800)  # 10:00, open 10:00:31-10:30
    stats = compute_period(columns_from(events), T0, T0 + _s(3 * 3600), UTC)  # 10:00-13:00
    assert stats.hourly_load[10] == pytest.approx((1800 - 31) / 3600)
    assert stats.hourly_load[11] is None  # covered, but nothing began and nothing was open
    assert stats.hourly_load[9] is None  # outside the period
    assert stats.hourly_load[13] is None
    empty = compute_period(columns_from([]), T0, T0 + DAY, UTC)
    assert empty.hourly_load == [None] * 24
    assert not empty.has_data


async def test_build_report_previous_period_without_data_is_null_not_zero() -> None:
    log = DuckDbEventStore()
    log.append_many([e for e in history(T0) if e.conversation_id != "E"])  # E began before
    d = report_to_dict(await build_report(log, T0, T0 + DAY, tz=UTC))
    assert d["period"]["previous_has_data"] is False
    assert d["previous"]["conversations"] is None
    assert d["change"]["conversations"] is None
    assert d["change"]["csat"] is None
    payments = next(c for c in d["categories"] if c["category"] == "payments")
    assert payments["tickets"] == 2
    assert (payments["previous"], payments["change"], payments["change_rate"]) == (
        None,
        None,
        None,
    )
    # With data before, a category absent then is a real 0 and its change a real +N.
    log.append_many(history(T0 - DAY, prefix="prev-")[:5])  # A: self-service only
    d = report_to_dict(await build_report(log, T0, T0 + DAY, tz=UTC))
    payments = next(c for c in d["categories"] if c["category"] == "payments")
    assert (payments["previous"], payments["change"], payments["change_rate"]) == (0, 2, None)
    assert d["change"]["conversations"] == 5 - 1
