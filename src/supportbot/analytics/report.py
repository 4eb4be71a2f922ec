"""The support report: one period against the previous one of the same length."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

import numpy as np

from supportbot.analytics.experiments import ExperimentReport, compare_arms
from supportbot.analytics.frame import EventFrame
from supportbot.analytics.gaps import Cluster, Embed, Theme, find_themes, kmeans
from supportbot.analytics.kpis import LOOKBACK, CategoryStats, PeriodStats, compute_period
from supportbot.analytics.table import NO_CODE, ColumnarEventLog, EventColumns, to_micros

PREVIOUS_MISSING_SHARE = 0.1
"""A previous period whose first tenth has no events at all counts as having no data."""


@dataclass(frozen=True, slots=True)
class KnownArticle:
    """An article of the knowledge base as the report names and matches it."""

    title: str
    text: str
    """What a gap theme is compared with: the title and the questions it answers."""


MAX_GAP_TEXTS = 2000
"""Unanswered messages embedded at most; beyond that a random sample stands for all."""


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a support lead reads about one period."""

    since: datetime
    until: datetime
    timezone: str
    current: PeriodStats
    previous: PeriodStats
    categories: list[CategoryStats]
    subcategories: list[CategoryStats]
    themes: list[Theme]
    gap_messages: int
    gaps_sampled: bool
    experiment: ExperimentReport | None
    partial_days: tuple[str, ...] = ()
    """Local dates (ISO) of the period that it covers only in part (today, until now)."""


def compare_categories(
    current: dict[tuple[str, str | None], int],
    previous: dict[tuple[str, str | None], int] | None,
    *,
    by_subcategory: bool,
) -> list[CategoryStats]:
    """Ticket counts per category (or category/subcategory) with the change from before.

    `previous` is None when the previous period has no data at all: its counts and the
    changes are then unknown (None), not 0 and +N.
    """

    def fold(counts: dict[tuple[str, str | None], int]) -> dict[tuple[str, str | None], int]:
        out: dict[tuple[str, str | None], int] = {}
        for (cat, sub), n in counts.items():
            key = (cat, sub) if by_subcategory else (cat, None)
            out[key] = out.get(key, 0) + n
        return out

    cur = fold(current)
    prev = fold(previous) if previous is not None else None
    rows: list[CategoryStats] = []
    for key in set(cur) | set(prev or {}):
        now = cur.get(key, 0)
        before = prev.get(key, 0) if prev is not None else None
        rows.append(
            CategoryStats(
                category=key[0],
                subcategory=key[1],
                tickets=now,
                previous=before,
                change=now - before if before is not None else None,
                change_rate=(now - before) / before if before else None,
            )
        )
    rows.sort(key=lambda r: (-r.tickets, r.category, r.subcategory or ""))
    return rows


def partial_days(
    since: datetime, until: datetime, tz: tzinfo, *, log_start: int | None = None
) -> tuple[str, ...]:
    """The local dates at the period's edges that it does not cover whole, including the
    day the log starts on when that is inside the period (`log_start`: microseconds)."""
    out: list[str] = []
    start, end = since.astimezone(tz), until.astimezone(tz)
    if log_start is not None and to_micros(since) < log_start < to_micros(until):
        first = (since + timedelta(microseconds=log_start - to_micros(since))).astimezone(tz)
        if first.time() != time():
            start = first
    if start.time() != time():
        out.append(start.date().isoformat())
    if end.time() != time() and end.date().isoformat() not in out:
        out.append(end.date().isoformat())
    return tuple(out)


def _arm_names(
    cols: EventColumns, codes: np.ndarray[Any, Any], experiment: str
) -> list[str | None]:
    decoded: dict[int, str | None] = {}
    for code in np.unique(codes).tolist():
        if code == NO_CODE:
            decoded[code] = None
            continue
        value = json.loads(cols.strings[code]).get(experiment)
        decoded[code] = value if isinstance(value, str) else None
    return [decoded[c] for c in codes.tolist()]


async def build_report(
    log: ColumnarEventLog,
    since: datetime,
    until: datetime,
    *,
    tz: tzinfo,
    embed: Embed | None = None,
    cluster: Cluster = kmeans,
    experiment: str | None = None,
    max_gap_texts: int = MAX_GAP_TEXTS,
    seed: int = 0,
    articles: Mapping[str, KnownArticle] | None = None,
) -> Report:
    """Read the log once and compute the period, the previous period, gaps and experiments.

    Args:
        log: the event log.
        since: start of the period (aware).
        until: end of the period (aware, exclusive).
        tz: the zone for days and hours of day.
        embed: texts -> vectors for content-gap themes; None skips the clustering.
        cluster: the clustering function for themes.
        experiment: the experiment whose arms to compare, if any.
        max_gap_texts: unanswered messages embedded at most (a random sample beyond).
        seed: seed of that sample.
        articles: the knowledge base's articles by id (titles for the tables; the nearest
            article of each content-gap theme).
    """
    if until <= since:
        raise ValueError("the period must end after it starts")
    length = until - since
    cols = await log.read_columns(since - length - LOOKBACK, until)
    # A previous period the log covers only from its middle on (the bot, or the demo, had
    # just started) would make every change look like growth: it counts as no data.
    earliest = int(cols.ts.min()) if len(cols) else None
    previous_covered = earliest is not None and earliest <= to_micros(
        since - length + length * PREVIOUS_MISSING_SHARE
    )
    # The frame takes the columns over (a month of events is not copied once more).
    frame = await asyncio.to_thread(EventFrame, cols, reorder_in_place=True)
    del cols

    def compute() -> tuple[PeriodStats, PeriodStats]:
        current = compute_period(frame.cols, since, until, tz, frame=frame)
        previous = compute_period(frame.cols, since - length, since, tz, frame=frame)
        return current, previous

    current, previous = await asyncio.to_thread(compute)
    known = articles or {}
    current = replace(
        current,
        articles=[
            replace(a, title=known[a.article_id].title if a.article_id in known else a.article_id)
            for a in current.articles
        ],
    )
    if previous.has_data and not previous_covered:
        previous = replace(previous, has_data=False)
    themes: list[Theme] = []
    gap_ids = current.gap_event_ids
    sampled = gap_ids.size > max_gap_texts
    if embed is not None and gap_ids.size:
        pick = gap_ids
        if sampled:
            pick = np.random.default_rng(seed).choice(gap_ids, size=max_gap_texts, replace=False)
        texts = await log.read_texts(pick.tolist())
        themes = await asyncio.to_thread(
            find_themes,
            list(texts.values()),
            embed,
            cluster=cluster,
            total=int(gap_ids.size),
            articles={i: a.text for i, a in known.items()},
        )
        themes = [
            replace(t, nearest_article=known[t.nearest_article].title)
            if t.nearest_article is not None and t.nearest_article in known
            else t
            for t in themes
        ]
    before = previous.categories if previous.has_data else None
    experiment_report = None
    if experiment is not None:
        # The arm codes index the dictionary of the frame's columns.
        arms = _arm_names(frame.cols, current.conversation_arms, experiment)
        experiment_report = compare_arms(experiment, arms, current.per_conversation)
    return Report(
        since=since,
        until=until,
        timezone=str(tz),
        current=current,
        previous=previous,
        categories=compare_categories(current.categories, before, by_subcategory=False),
        subcategories=compare_categories(current.categories, before, by_subcategory=True),
        themes=themes,
        gap_messages=int(gap_ids.size),
        gaps_sampled=bool(sampled),
        experiment=experiment_report,
        partial_days=partial_days(since, until, tz, log_start=earliest),
    )


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None:
        return None
    return now - before


def report_to_dict(report: Report) -> dict[str, Any]:
    """The JSON form: rates are fractions 0..1, times seconds, missing figures None."""
    s = report.current.summary
    p = report.previous.summary
    previous: dict[str, Any] = asdict(p)
    previous.pop("handoff_reasons")
    if not report.previous.has_data:
        # Nothing at all was recorded then (the bot was not running yet): unknown, not 0.
        previous = dict.fromkeys(previous)
    out: dict[str, Any] = {
        "period": {
            "since": report.since.isoformat(),
            "until": report.until.isoformat(),
            "timezone": report.timezone,
            "previous_since": report.previous.since.isoformat(),
            "previous_until": report.previous.until.isoformat(),
            "previous_has_data": report.previous.has_data,
            "partial_days": list(report.partial_days),
        },
        "conversations": s.conversations,
        "first_response_median_s": s.first_response_median_s,
        "first_response_p90_s": s.first_response_p90_s,
        "bot_first_response_median_s": s.bot_first_response_median_s,
        "bot_first_response_p90_s": s.bot_first_response_p90_s,
        "operator_response_median_s": s.operator_response_median_s,
        "resolution_median_s": s.resolution_median_s,
        "bot_resolution_median_s": s.bot_resolution_median_s,
        "ticket_resolution_median_s": s.ticket_resolution_median_s,
        "csat": s.csat,
        "rating_response_rate": s.rating_response_rate,
        "fcr": s.fcr,
        "deflection": s.deflection,
        "handoff_rate": s.handoff_rate,
        "handoff_reasons": {
            reason: {"count": n, "share": n / s.handoffs}
            for reason, n in s.handoff_reasons.items()
        },
        "queue_wait_median_s": s.queue_wait_median_s,
        "queue_wait_p90_s": s.queue_wait_p90_s,
        "tickets": s.tickets,
        "open_tickets": s.open_tickets,
        "waiting_in_queue": s.waiting_in_queue,
        "ratings": s.ratings,
        "previous": previous,
        "change": {
            key: _change(getattr(s, key), previous[key])
            for key in (
                "conversations",
                "first_response_median_s",
                "resolution_median_s",
                "bot_resolution_median_s",
                "ticket_resolution_median_s",
                "csat",
                "fcr",
                "deflection",
                "handoff_rate",
            )
        },
        "operators": [asdict(o) for o in report.current.operators],
        "hourly_load": report.current.hourly_load,
        "daily": [
            {"date": d, "conversations": c, "handoffs": h, "deflected": x}
            for d, c, h, x in report.current.daily
        ],
        "categories": [asdict(c) for c in report.categories],
        "subcategories": [asdict(c) for c in report.subcategories],
        "articles": [asdict(a) for a in report.current.articles],
        "content_gaps": [asdict(t) for t in report.themes],
        "content_gap_messages": report.gap_messages,
        "content_gaps_sampled": report.gaps_sampled,
    }
    if report.experiment is not None:
        out["experiment"] = asdict(report.experiment)
    return out
