"""Report periods say what they are: whole local days, partial days marked, no "-0"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from supportbot.analytics.render import fmt_change, to_markdown
from supportbot.analytics.report import build_report, partial_days, report_to_dict
from supportbot.commands.report import local_midnight, parse_moment
from supportbot.domain.events import Event, EventKind
from supportbot.storage.event_store import DuckDbEventStore

MOSCOW = ZoneInfo("Europe/Moscow")
NOW = datetime(2024, 5, 20, 14, 30, tzinfo=UTC)  # 17:30 in Moscow


def test_report_since_days_starts_at_local_midnight_of_whole_days() -> None:
    since = parse_moment("30d", now=NOW, tz=MOSCOW)
    assert since.astimezone(MOSCOW) == datetime(2024, 4, 20, tzinfo=MOSCOW)
    assert parse_moment("2w", now=NOW, tz=MOSCOW).astimezone(MOSCOW).day == 6
    assert parse_moment("12h", now=NOW, tz=MOSCOW) == NOW - timedelta(hours=12)
    assert local_midnight(NOW, MOSCOW).astimezone(MOSCOW) == datetime(2024, 5, 20, tzinfo=MOSCOW)


def test_report_partial_days_are_only_the_edges_not_whole() -> None:
    since = parse_moment("30d", now=NOW, tz=MOSCOW)
    assert partial_days(since, NOW, MOSCOW) == ("2024-05-20",)
    assert partial_days(since, local_midnight(NOW, MOSCOW), MOSCOW) == ()
    assert partial_days(NOW - timedelta(hours=30), NOW, MOSCOW) == ("2024-05-19", "2024-05-20")


def test_report_changes_never_read_minus_zero() -> None:
    assert fmt_change("resolution_median_s", 100.2, 100.4) == "0 s"
    assert fmt_change("csat", 0.50001, 0.50002) == "0.0 pp"
    assert fmt_change("conversations", 5, 5) == "0"
    assert fmt_change("resolution_median_s", 100.0, 200.0) == "-1.7 min"
    assert fmt_change("csat", 0.6, 0.5) == "+10.0 pp"


def _conversation(conv: str, at: datetime) -> list[Event]:
    return [
        Event(at, EventKind.MESSAGE_RECEIVED, conv, 1),
        Event(at + timedelta(seconds=2), EventKind.BOT_REPLY, conv, 1),
        Event(
            at + timedelta(seconds=60),
            EventKind.CONVERSATION_CLOSED,
            conv,
            1,
            data={"outcome": "self_service"},
        ),
    ]


async def test_report_says_there_is_no_previous_period_when_the_log_starts_inside_it() -> None:
    since = datetime(2024, 5, 10, tzinfo=UTC)
    until = datetime(2024, 5, 20, tzinfo=UTC)
    store = DuckDbEventStore()
    # The log starts in the middle of the previous period: its figures would mislead.
    events = [
        e for day in range(15) for e in _conversation(f"c{day}", since - timedelta(days=5 - day))
    ]
    store.append_many(events)
    report = await build_report(store, since, until, tz=UTC)
    assert report_to_dict(report)["period"]["previous_has_data"] is False
    text = to_markdown(report)
    assert "No data for the previous period (2024-04-30 00:00 — 2024-05-10 00:00)" in text
    assert "Changes are against" not in text
    # A log that covers the whole previous period is compared with it.
    store.append_many(_conversation("early", since - timedelta(days=10)))
    text = to_markdown(await build_report(store, since, until, tz=UTC))
    assert "Changes are against the previous period of the same length" in text


async def test_weekly_summary_and_report_agree_on_the_same_whole_days() -> None:
    from supportbot.analytics.stats import StatsService
    from supportbot.commands.report import local_midnight
    from supportbot.storage.events import InMemoryEventLog

    now = datetime(2024, 5, 20, 14, 30, tzinfo=UTC)
    events = [
        e
        for hour in range(0, 24 * 9, 5)
        for e in _conversation(f"c{hour}", now - timedelta(hours=hour))
    ]
    log = InMemoryEventLog()
    await log.append_many(events)
    summary = await StatsService(log, MOSCOW, clock=lambda: now).weekly_summary_text("en")
    store = DuckDbEventStore()
    store.append_many(events)
    until = local_midnight(now, MOSCOW)
    since = parse_moment("7d", now=now, tz=MOSCOW)
    d = report_to_dict(await build_report(store, since, until, tz=MOSCOW))
    assert f"Conversations: {d['conversations']}" in summary
    assert f"Deflection (self-service): {d['deflection'] * 100:.0f}%" in summary


def test_report_the_day_the_log_starts_on_is_partial() -> None:
    since = datetime(2024, 5, 1, tzinfo=UTC)
    until = datetime(2024, 5, 31, tzinfo=UTC)
    started = since + timedelta(hours=18)
    micros = int((started - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    assert partial_days(since, until, UTC, log_start=micros) == ("2024-05-01",)
    assert partial_days(since, until, UTC, log_start=micros - 18 * 3600 * 10**6) == ()
