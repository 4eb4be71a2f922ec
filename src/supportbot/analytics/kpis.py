"""KPIs over event columns: response and resolution times, CSAT, FCR, deflection, load.

Everything here is vectorised numpy over `EventColumns`; no per-event Python loop, so a month
of millions of events is computed in seconds.

Definitions (the tests pin every one of them):
  * A conversation belongs to a period when its first `message_received` falls inside it;
    its events are counted up to the end of the period (the report shows what was known
    then). Events earlier than the read window are not seen, so a conversation must be
    younger than the look-back of the reader (`LOOKBACK`) to be classified right.
  * Bot first response: first `bot_reply`/`suggestion_shown` at or after the first message.
  * Human first response: first `operator_reply` at or after the first `handoff`.
  * Operator response times: every `operator_reply` that answers pending user input; it is
    measured from the earliest `message_received` (or the handoff) since the previous reply.
  * Tickets: conversations with a desk ticket (an event carrying a ticket id, a `queued` or
    a `taken`); a handoff with no desk behind it makes none. A ticket the desk reopened
    under a newer conversation is counted in each conversation by that one's own events.
  * Resolution: first message -> the ticket's last `closed` (by operator, user or bot),
    reported three ways: all resolved conversations, bot-resolved (no ticket: first message
    -> self-service close) and ticket-resolved (first message -> ticket close; the
    per-operator resolution is exactly this, over the operator's tickets);
    unless a handoff/queued/taken in the same conversation reopened it after that; for
    conversations without a ticket, -> conversation_closed(self_service).
    conversation_closed(handoff) never resolves: the engine writes it only when the user
    next writes, possibly hours after the ticket was closed. Everything else is
    unresolved (no resolution time).
  * Deflection: conversations no operator answered that ended self-service (the outcome,
    a ticket withdrawn with solved_by_bot, or helpful feedback and no handoff), over all
    conversations. Handoff rate: conversations with a handoff.
  * CSAT: share of 4-5 among the last rating of each conversation; rating response rate:
    rated among those with a `rating_requested`. FCR: solved among the last `fcr` of
    each, where a reopened ticket (`reopened` > 0 on its closed/fcr events, or its events
    under two conversations) is never a first-contact resolution.
  * Per operator: tickets and their resolution, CSAT, rating response rate and FCR go to
    the ticket's last `taken` operator; the first response to whoever replied first; each
    answer to whoever sent it. Names are the latest `data["operator"]` of taken /
    operator_reply events, else the id.
  * Queue wait: first `queued` -> the first `taken` after it.
  * Medians are numpy medians (mean of the two middle values), p90 is numpy's linear
    percentile. A figure with no data is None, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from supportbot.analytics.breakdown import (
    ArticleStats,
    OperatorStats,
    PerConversation,
    article_stats,
    median_s,
    operator_responses,
    operator_stats,
    p90_s,
    ratio,
)
from supportbot.analytics.frame import EventFrame, Mask, Rows, to_local
from supportbot.analytics.table import NO_CODE, NONE_ID, EventColumns, to_micros
from supportbot.domain.events import EventKind

LOOKBACK = timedelta(days=2)
"""How far before a period the reader looks to see whether a conversation began earlier."""

I64 = npt.NDArray[np.int64]
ScalarT = TypeVar("ScalarT", bound=np.generic)
_MAX = np.iinfo(np.int64).max
_US = 1_000_000.0


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """Tickets in one category (or category/subcategory) and the change from before."""

    category: str
    subcategory: str | None
    tickets: int
    previous: int | None
    change: int | None
    change_rate: float | None


@dataclass(frozen=True, slots=True)
class Summary:
    """The headline KPIs of one period for one group of conversations."""

    conversations: int
    bot_first_response_median_s: float | None
    bot_first_response_p90_s: float | None
    first_response_median_s: float | None
    first_response_p90_s: float | None
    operator_response_median_s: float | None
    resolution_median_s: float | None
    resolved: int
    open_conversations: int
    bot_resolution_median_s: float | None
    ticket_resolution_median_s: float | None
    tickets: int
    open_tickets: int
    csat: float | None
    ratings: int
    rating_response_rate: float | None
    fcr: float | None
    deflection: float | None
    deflected: int
    handoffs: int
    handoff_rate: float | None
    handoff_reasons: dict[str, int]
    queue_wait_median_s: float | None
    queue_wait_p90_s: float | None
    waiting_in_queue: int


@dataclass(frozen=True, slots=True)
class PeriodStats:
    """Everything computed for one period (the report adds gaps and comparisons)."""

    since: datetime
    until: datetime
    summary: Summary
    operators: list[OperatorStats]
    articles: list[ArticleStats]
    categories: dict[tuple[str, str | None], int]
    has_data: bool = True
    daily: list[tuple[str, int, int, int]] = field(default_factory=list)
    hourly_load: list[float | None] = field(default_factory=list)
    hourly_conversations: list[int] = field(default_factory=list)
    first_response_s: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float64)
    )
    gap_event_ids: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conversation_arms: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32)
    )
    per_conversation: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)


def compute_period(
    cols: EventColumns,
    since: datetime,
    until: datetime,
    tz: tzinfo,
    *,
    frame: EventFrame | None = None,
) -> PeriodStats:
    """All KPIs of conversations that began in [since, until), seen up to `until`."""
    low, high = to_micros(since), to_micros(until)
    whole = frame if frame is not None else EventFrame(cols)
    first_msg = whole.first_message()
    start = whole.ts_at(first_msg)
    in_cohort = (start >= low) & (start < high)
    n = int(in_cohort.sum())
    # Events that count: those of the cohort, from its start up to the end of the period.
    # The cohort began at or after `low`, so its counted events all lie in this window.
    f = whole.window(low, high)
    c = f.cols
    after_start = in_cohort[f.cidx] & (f.ts >= start[f.cidx])

    bot_first = f.ts_at(
        f.first(after_start & f.kind(EventKind.BOT_REPLY, EventKind.SUGGESTION_SHOWN))
    )
    handoff_i = f.first(after_start & f.kind(EventKind.HANDOFF))
    has_handoff = in_cohort & (handoff_i >= 0)
    handoff_ts = f.ts_at(handoff_i)
    human_i = f.first(
        after_start & f.kind(EventKind.OPERATOR_REPLY) & (f.ts >= handoff_ts[f.cidx])
    )
    human_first = f.ts_at(human_i)

    queued_i = f.first(after_start & f.kind(EventKind.QUEUED))
    queued_ts = f.ts_at(queued_i)
    # A ticket may be taken without a queue entry (an operator grabbed it at once).
    taken_from = np.where(queued_i >= 0, queued_ts, start)
    taken_i = f.first(after_start & f.kind(EventKind.TAKEN) & (f.ts >= taken_from[f.cidx]))
    taken_ts = f.ts_at(taken_i)
    last_taken = f.last(after_start & f.kind(EventKind.TAKEN))
    owner = np.where(
        last_taken >= 0,
        f.pick(c.operator, last_taken, NONE_ID),
        f.pick(c.operator, human_i, NONE_ID),
    )
    # A ticket exists once the desk took the handoff: its events (and the engine's handoff
    # event after it) carry the ticket id. A handoff without a desk makes no ticket.
    with_ticket = f.first(after_start & (c.ticket != NONE_ID)) >= 0
    is_ticket = in_cohort & (with_ticket | (queued_i >= 0) | (last_taken >= 0))

    # Resolution. A ticket is resolved by its (last) `closed`, unless it was reopened in
    # the same conversation after it; the engine's conversation_closed(handoff) comes only
    # when the user next writes, possibly hours later, so it never resolves anything.
    # Conversations without a ticket resolve at conversation_closed(self_service).
    closed_i = f.last(after_start & f.kind(EventKind.CLOSED))
    reopen_i = f.last(after_start & f.kind(EventKind.HANDOFF, EventKind.QUEUED, EventKind.TAKEN))
    ticket_closed = is_ticket & (closed_i >= 0) & (reopen_i < closed_i)
    conv_closed = after_start & f.kind(EventKind.CONVERSATION_CLOSED)
    self_i = f.first(conv_closed & f.label("self_service"))
    self_served = in_cohort & ~is_ticket & (self_i >= 0)
    resolved_ts = np.where(
        ticket_closed, f.ts_at(closed_i), np.where(self_served, f.ts_at(self_i), _MAX)
    )
    resolved = in_cohort & (resolved_ts < _MAX)
    ended = resolved | (in_cohort & (f.first(conv_closed) >= 0))

    # Deflection: solved by articles without a person: a self-service close, a ticket the
    # user withdrew because an article solved it (closed with solved_by_bot), or helpful
    # feedback without a handoff; never when an operator answered.
    outcome_i = f.last(conv_closed)
    self_service = (outcome_i >= 0) & (
        f.pick(c.label, outcome_i, NO_CODE) == c.code_of("self_service")
    )
    by_bot = ticket_closed & (f.pick(c.flag, closed_i, -1) == 1)
    helpful_i = f.first(after_start & f.kind(EventKind.FEEDBACK) & (c.flag == 1))
    operator_answered = f.first(after_start & f.kind(EventKind.OPERATOR_REPLY)) >= 0
    deflected = (
        in_cohort
        & ~operator_answered
        & (self_service | by_bot | ((helpful_i >= 0) & ~has_handoff))
    )

    rating_i = f.last(after_start & f.kind(EventKind.RATING) & ~np.isnan(c.value))
    rating = f.pick(c.value, rating_i, np.nan)
    rated = in_cohort & (rating_i >= 0)
    requested = in_cohort & (f.first(after_start & f.kind(EventKind.RATING_REQUESTED)) >= 0)
    fcr_i = f.last(after_start & f.kind(EventKind.FCR) & (c.flag >= 0))
    has_fcr = in_cohort & (fcr_i >= 0)
    # A reopened ticket was not solved at first contact: neither the conversation that
    # reopened it (its closed/fcr events say `reopened` > 0) nor the one that came before.
    reopened = f.first(after_start & f.kind(EventKind.CLOSED, EventKind.FCR) & (c.value > 0)) >= 0
    fcr_solved = has_fcr & (f.pick(c.flag, fcr_i, -1) == 1) & ~reopened & ~_shared_tickets(f)

    bot_frt = (bot_first - start)[in_cohort & (bot_first < _MAX)]
    human_ok = has_handoff & (human_first < _MAX)
    human_frt = (human_first - handoff_ts)[human_ok]
    resolution = (resolved_ts - start)[resolved]
    queue_ok = in_cohort & (queued_i >= 0) & (taken_ts < _MAX)
    queue_wait = (taken_ts - queued_ts)[queue_ok]

    reply_idx, reply_wait = operator_responses(f, after_start, handoff_ts)

    reasons: dict[str, int] = {}
    if has_handoff.any():
        reason_codes = c.label[handoff_i[has_handoff]]
        for code, count in zip(*np.unique(reason_codes, return_counts=True), strict=True):
            name = c.strings[code] if code != NO_CODE else "unknown"
            reasons[name] = reasons.get(name, 0) + int(count)

    ratings_n = int(rated.sum())
    summary = Summary(
        conversations=n,
        bot_first_response_median_s=median_s(bot_frt),
        bot_first_response_p90_s=p90_s(bot_frt),
        first_response_median_s=median_s(human_frt),
        first_response_p90_s=p90_s(human_frt),
        operator_response_median_s=median_s(reply_wait),
        resolution_median_s=median_s(resolution),
        resolved=int(resolved.sum()),
        open_conversations=n - int(ended.sum()),
        # The split a lead needs: the bot's quick self-service closes pull the overall
        # median far below anything a person takes; per operator it is `ticket_...`.
        bot_resolution_median_s=median_s((resolved_ts - start)[self_served]),
        ticket_resolution_median_s=median_s((resolved_ts - start)[ticket_closed & resolved]),
        tickets=int(is_ticket.sum()),
        open_tickets=int((is_ticket & ~ticket_closed).sum()),
        csat=ratio(int((rated & (rating >= 4)).sum()), ratings_n),
        ratings=ratings_n,
        rating_response_rate=ratio(int((rated & requested).sum()), int(requested.sum())),
        fcr=ratio(int(fcr_solved.sum()), int(has_fcr.sum())),
        deflection=ratio(int(deflected.sum()), n),
        deflected=int(deflected.sum()),
        handoffs=int(has_handoff.sum()),
        handoff_rate=ratio(int(has_handoff.sum()), n),
        handoff_reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        queue_wait_median_s=median_s(queue_wait),
        queue_wait_p90_s=p90_s(queue_wait),
        waiting_in_queue=int((in_cohort & (queued_i >= 0) & (taken_ts == _MAX)).sum()),
    )

    per_ticket = PerConversation(
        is_ticket=is_ticket,
        owner=owner,
        human_ok=human_ok,
        human_frt=human_first - handoff_ts,
        first_replier=f.pick(c.operator, human_i, NONE_ID),
        resolved=resolved,
        resolution=resolved_ts - start,
        rated=rated,
        rating=rating,
        requested=requested,
        has_fcr=has_fcr,
        fcr_solved=fcr_solved,
    )
    operators = operator_stats(f, per_ticket, reply_idx, reply_wait)
    articles = article_stats(f, after_start, handoff_ts)
    categories = _categories(f, after_start, in_cohort)

    local_start = to_local(start[in_cohort], tz, low, high)
    daily = _daily(local_start, has_handoff[in_cohort], deflected[in_cohort])
    hourly_conv = np.bincount(((local_start // 3_600_000_000) % 24).astype(np.int64), minlength=24)
    owned = is_ticket & (taken_ts < _MAX)
    load = _hourly_load(
        taken_ts[owned], np.minimum(resolved_ts[owned], high), low, high, tz, hourly_conv
    )

    gap = after_start & f.kind(EventKind.DECISION) & f.label("handoff")
    first_arms = whole.pick(whole.cols.arms, first_msg, NO_CODE)
    per_conv = {
        "deflected": deflected[in_cohort].astype(np.float64),
        "handoff": has_handoff[in_cohort].astype(np.float64),
        "csat": np.where(rated, (rating >= 4).astype(np.float64), np.nan)[in_cohort],
        "resolution_s": np.where(resolved, (resolved_ts - start) / _US, np.nan)[in_cohort],
    }
    return PeriodStats(
        since=since,
        until=until,
        summary=summary,
        operators=operators,
        articles=articles,
        categories=categories,
        has_data=len(c) > 0,
        daily=daily,
        hourly_load=load,
        hourly_conversations=[int(x) for x in hourly_conv],
        first_response_s=human_frt.astype(np.float64) / _US,
        gap_event_ids=c.event_id[gap],
        conversation_arms=first_arms[in_cohort].astype(np.int32),
        per_conversation=per_conv,
    )


def _shared_tickets(f: Rows) -> Mask:
    """Per conversation: one of its tickets also has events under another conversation.

    The desk moves a reopened ticket to the conversation that reopened it, so a ticket
    seen under two conversations was not settled by the first contact.
    """
    rows = np.nonzero(
        (f.cols.ticket != NONE_ID)
        & f.kind(EventKind.HANDOFF, EventKind.QUEUED, EventKind.TAKEN, EventKind.CLOSED)
    )[0]
    out = np.zeros(f.n_conv, dtype=bool)
    if rows.size < 2:
        return out
    ticket, conv = f.cols.ticket[rows], f.cidx[rows]
    order = np.lexsort((conv, ticket))
    ticket, conv = ticket[order], conv[order]
    distinct = np.ones(ticket.size, dtype=bool)
    distinct[1:] = (ticket[1:] != ticket[:-1]) | (conv[1:] != conv[:-1])
    ticket, conv = ticket[distinct], conv[distinct]
    new_ticket = np.ones(ticket.size, dtype=bool)
    new_ticket[1:] = ticket[1:] != ticket[:-1]
    group = np.cumsum(new_ticket) - 1
    out[conv[np.bincount(group)[group] > 1]] = True
    return out


def _categories(f: Rows, after_start: Mask, in_cohort: Mask) -> dict[tuple[str, str | None], int]:
    c = f.cols
    last_closed = f.last(after_start & f.kind(EventKind.CLOSED) & (c.label != NO_CODE))
    has = in_cohort & (last_closed >= 0)
    rows = last_closed[has]
    pairs = c.label[rows].astype(np.int64) * (len(c.strings) + 1) + (c.label2[rows] + 1)
    out: dict[tuple[str, str | None], int] = {}
    for key, count in zip(*np.unique(pairs, return_counts=True), strict=True):
        cat = c.strings[int(key) // (len(c.strings) + 1)]
        sub_code = int(key) % (len(c.strings) + 1) - 1
        sub = c.strings[sub_code] if sub_code != NO_CODE else None
        out[(cat, sub)] = int(count)
    return out


def _daily(local_start: I64, handoff: Mask, deflected: Mask) -> list[tuple[str, int, int, int]]:
    """(local date, conversations, handoffs, deflected) per day."""
    if local_start.size == 0:
        return []
    day = local_start // 86_400_000_000
    uniq, inverse = np.unique(day, return_inverse=True)
    conv = np.bincount(inverse)
    hand = np.bincount(inverse, weights=handoff.astype(np.float64))
    defl = np.bincount(inverse, weights=deflected.astype(np.float64))
    epoch = datetime(1970, 1, 1)  # noqa: DTZ001 - wall-clock dates, already shifted to local
    return [
        ((epoch + timedelta(days=int(d))).date().isoformat(), int(a), int(b), int(e))
        for d, a, b, e in zip(uniq.tolist(), conv, hand, defl, strict=True)
    ]


def _hourly_load(
    starts: I64, ends: I64, low: int, high: int, tz: tzinfo, conversations: I64
) -> list[float | None]:
    """Mean number of tickets open at once (taken, not resolved) per local hour of day.

    None for an hour of day the period does not cover, and for one with no data at all
    (no conversation began in it and no ticket was open): nothing says it was 0.
    """
    bounds = np.arange(low - low % 3_600_000_000, high + 3_600_000_000, 3_600_000_000)
    bounds = bounds[(bounds >= low - 3_600_000_000)]
    if bounds.size < 2 or high <= low:
        return [None] * 24
    ends = np.maximum(ends, starts)
    # Relative to the period start and in float: sums of raw epoch microseconds over many
    # tickets would overflow int64.
    s = np.sort(starts - low).astype(np.float64)
    e = np.sort(ends - low).astype(np.float64)
    cs = np.concatenate([[0.0], np.cumsum(s)])
    ce = np.concatenate([[0.0], np.cumsum(e)])

    def integral(x: I64) -> npt.NDArray[np.float64]:
        # Sum over intervals of (x - s)+ - (x - e)+ : ticket-time open before x.
        rel = (x - low).astype(np.float64)
        ks = np.searchsorted(s, rel, side="right")
        ke = np.searchsorted(e, rel, side="right")
        return np.asarray((ks * rel - cs[ks]) - (ke * rel - ce[ke]), dtype=np.float64)

    edges = np.clip(bounds, low, high)
    total = np.diff(integral(edges))
    width = np.diff(edges).astype(np.float64)
    local = to_local(edges[:-1], tz, low, high)
    hour = ((local // 3_600_000_000) % 24).astype(np.int64)
    sums = np.bincount(hour, weights=total, minlength=24)
    widths = np.bincount(hour, weights=width, minlength=24)
    return [
        float(a / w) if w > 0 and (a > 0 or began > 0) else None
        for a, w, began in zip(sums, widths, conversations, strict=True)
    ]


Clusterer = Callable[[npt.NDArray[np.float32], int], npt.NDArray[np.int64]]
