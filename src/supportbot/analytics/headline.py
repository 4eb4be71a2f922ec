"""Headline numbers for `/stats` and the weekly summary in the staff group."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from supportbot.analytics.kpis import compute_period
from supportbot.analytics.table import EventColumns, columns_from
from supportbot.analytics.texts import text
from supportbot.domain.events import Event


@dataclass(frozen=True, slots=True)
class Headline:
    """The few numbers a lead glances at; None where there was no data."""

    since: datetime
    until: datetime
    conversations: int
    deflection: float | None
    handoff_rate: float | None
    first_response_median_s: float | None
    resolution_median_s: float | None
    csat: float | None
    open_tickets: int


def headline(
    events: Sequence[Event] | EventColumns,
    *,
    since: datetime,
    until: datetime,
    tz: tzinfo = UTC,
) -> Headline:
    """Headline numbers of conversations that began in [since, until).

    Pass events read from a little before `since` (see `kpis.LOOKBACK`) so conversations
    that began earlier are recognised as such.
    """
    cols = events if isinstance(events, EventColumns) else columns_from(events)
    s = compute_period(cols, since, until, tz).summary
    return Headline(
        since=since,
        until=until,
        conversations=s.conversations,
        deflection=s.deflection,
        handoff_rate=s.handoff_rate,
        first_response_median_s=s.first_response_median_s,
        resolution_median_s=s.resolution_median_s,
        csat=s.csat,
        open_tickets=s.open_tickets,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _dur(seconds: float | None, lang: str) -> str:
    if seconds is None:
        return "—"
    minutes = "мин" if lang == "ru" else "min"
    hours = "ч" if lang == "ru" else "h"
    if seconds < 60:
        return f"{seconds:.0f} {'с' if lang == 'ru' else 's'}"
    if seconds < 3600:
        return f"{seconds / 60:.0f} {minutes}"
    return f"{seconds / 3600:.1f} {hours}"


def format_headline(h: Headline, lang: str, title: str | None = None) -> str:
    """Telegram-ready HTML text of a headline (ru or en); `title` defaults to the period."""

    def t(key: str) -> str:
        return html.escape(text(lang, key))

    heading = (
        html.escape(title) if title else (f"{h.since:%Y-%m-%d %H:%M} — {h.until:%Y-%m-%d %H:%M}")
    )
    lines = [
        f"<b>{heading}</b>",
        f"{t('conversations')}: {h.conversations}",
        f"{t('deflection')}: {_pct(h.deflection)}",
        f"{t('handoff_rate')}: {_pct(h.handoff_rate)}",
        f"{t('first_response_median_s')}: {_dur(h.first_response_median_s, lang)}",
        f"{t('resolution_median_s')}: {_dur(h.resolution_median_s, lang)}",
        f"{t('csat')}: {_pct(h.csat)}",
        f"{t('open_tickets')}: {h.open_tickets}",
    ]
    return "\n".join(lines)


def format_stats(today: Headline, week: Headline, lang: str) -> str:
    """The `/stats` reply: today's and this week's headline numbers."""
    return (
        format_headline(today, lang, text(lang, "today"))
        + "\n\n"
        + format_headline(week, lang, text(lang, "week"))
    )
