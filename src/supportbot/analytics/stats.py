"""Headline numbers on demand (`/stats`) and the weekly summary, read from the event log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from supportbot.analytics.headline import Headline, format_headline, format_stats, headline
from supportbot.analytics.kpis import LOOKBACK
from supportbot.analytics.table import ColumnarEventLog, EventColumns
from supportbot.analytics.texts import text

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StatsService:
    """What the staff group asks for: today, this week, and the last full week."""

    def __init__(
        self, log: ColumnarEventLog, tz: tzinfo, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._log = log
        self._tz = tz
        self._clock = clock

    async def _columns(self, since: datetime, until: datetime) -> EventColumns:
        return await self._log.read_columns(since - LOOKBACK, until)

    async def _headline(self, since: datetime, until: datetime) -> Headline:
        columns = await self._columns(since, until)
        return await asyncio.to_thread(headline, columns, since=since, until=until, tz=self._tz)

    async def stats_text(self, lang: str) -> str:
        """Today's (since local midnight) and the last 7 days' headline numbers."""
        now = self._clock().astimezone(self._tz)
        midnight = datetime.combine(now.date(), time(), tzinfo=self._tz)
        today = await self._headline(midnight.astimezone(UTC), now.astimezone(UTC))
        # The same whole local days as `supportbot report --since 7d`: seven days before
        # today's midnight, plus today so far.
        week_start = datetime.combine(now.date() - timedelta(days=7), time(), tzinfo=self._tz)
        week = await self._headline(week_start.astimezone(UTC), now.astimezone(UTC))
        return format_stats(today, week, lang)

    async def weekly_summary_text(self, lang: str) -> str:
        """The summary of the 7 whole local days before today (as `supportbot report
        --since 7d --complete-days` reports them)."""
        today = self._clock().astimezone(self._tz).date()
        end = datetime.combine(today, time(), tzinfo=self._tz).astimezone(UTC)
        start = datetime.combine(today - timedelta(days=7), time(), tzinfo=self._tz)
        week = await self._headline(start.astimezone(UTC), end)
        return format_headline(week, lang, text(lang, "week"))


def next_weekly_run(now: datetime, weekday: str, at: str, tz: tzinfo) -> datetime:
    """The next moment (UTC) that is `weekday` at `at` (HH:MM) in `tz`, strictly after now."""
    hour, minute = (int(part) for part in at.split(":", 1))
    local = now.astimezone(tz)
    target_day = WEEKDAYS.index(weekday)
    days_ahead = (target_day - local.weekday()) % 7
    candidate = datetime.combine(
        local.date() + timedelta(days=days_ahead), time(hour, minute), tzinfo=tz
    )
    if candidate <= local:
        candidate += timedelta(days=7)
    return candidate.astimezone(UTC)
