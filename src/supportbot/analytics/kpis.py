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
  * Resolution: first message -> the last `closed`/`conversation_closed` (outcome other than
    abandoned). Conversations without one are open and have no resolution time.
  * Deflection: conversations whose last outcome is self_service, or with helpful feedback
    and no handoff, over all conversations. Handoff rate: conversations with a handoff.
  * CSAT: share of 4-5 among the last rating of each conversation; rating response rate:
    rated among those with a `rating_requested`. FCR: solved among the last `fcr` of each.
  * Queue wait: first `queued` -> the first `taken` after it.
  * Medians are numpy medians (mean of the two middle values), p90 is numpy's linear
    percentile. A figure with no data is None, never 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

import numpy as np
import numpy.typing as npt

from supportbot.analytics.columns import ITEM_SEP, NO_CODE, NONE_ID, EventColumns, to_micros
from supportbot.domain.events import EventKind

LOOKBACK = timedelta(days=2)
"""How far before a period the reader looks to see whether a conversation began earlier."""

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
_MAX = np.iinfo(np.int64).max
_US = 1_000_000.0


def median_s(values_us: npt.NDArray[np.int64] | npt.NDArray[np.float64]) -> float | None:
    """Median in seconds of microsecond durations; None without data."""
    if values_us.size == 0:
        return None
    return float(np.median(values_us)) / _US


def p90_s(values_us: npt.NDArray[np.int64] | npt.NDArray[np.float64]) -> float | None:
    """90th percentile in seconds of microsecond durations; None without data."""
    if values_us.size == 0:
        return None
    return float(np.percentile(values_us, 90)) / _US


def ratio(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide."""
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class OperatorStats:
    """One operator's numbers over a period."""

    operator_id: int
    tickets: int
    first_response_median_s: float | None
    response_median_s: float | None
    resolution_median_s: float | None
    csat: float | None
    ratings: int


@dataclass(frozen=True, slots=True)
class ArticleStats:
    """How one article fared: shown, opened, judged, and whether a person was needed after."""

    article_id: str
    shown: int
    opened: int
    helpful: int
    not_helpful: int
    handoff_after: int
    helpful_rate: float | None
    handoff_after_rate: float | None


@dataclass(frozen=True, slots=True)
class CategoryStats:
    """Tickets in one category (or category/subcategory) and the change from before."""

    category: str
    subcategory: str | None
    tickets: int
    previous: int
    change: int
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
    daily: list[tuple[str, int, int, int]] = field(default_factory=list)
    hourly_load: list[float] = field(default_factory=list)
    hourly_conversations: list[int] = field(default_factory=list)
    first_response_s: npt.NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float64)
    )
    gap_event_ids: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    conversation_arms: npt.NDArray[np.int32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.int32)
    )
    per_conversation: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)


class EventFrame:
    """Events sorted by time with each event's conversation index, plus lookup helpers."""

    def __init__(self, cols: EventColumns) -> None:
        if cols.event_id.size < 2 or bool(np.all(np.diff(cols.event_id) > 0)):
            # Logs hand out events in id order, nearly sorted by time: a stable sort is
            # much faster there and breaks ties by id just like the lexsort below.
            order = np.argsort(cols.ts, kind="stable")
        else:
            order = np.lexsort((cols.event_id, cols.ts))
        self.cols = cols.select(order)
        self.conv_keys, inverse = np.unique(self.cols.conversation, return_inverse=True)
        self.cidx = inverse.astype(np.int64).reshape(-1)
        self.n_conv = int(self.conv_keys.shape[0])
        self.ts = self.cols.ts
        self._kinds: dict[tuple[EventKind, ...], Mask] = {}

    def kind(self, *kinds: EventKind) -> Mask:
        """Rows of any of these kinds (cached: the same masks are asked for many times)."""
        found = self._kinds.get(kinds)
        if found is None:
            found = self._kinds[kinds] = self.cols.kind_mask(*kinds)
        return found

    def label(self, text: str) -> Mask:
        return np.asarray(self.cols.label == self.cols.code_of(text), dtype=bool)

    def first(self, mask: Mask) -> I64:
        """Per conversation, the index of its first event in `mask` (-1 if none)."""
        out = np.full(self.n_conv, _MAX, dtype=np.int64)
        idx = np.nonzero(mask)[0]
        np.minimum.at(out, self.cidx[idx], idx)
        out[out == _MAX] = -1
        return out

    def last(self, mask: Mask) -> I64:
        """Per conversation, the index of its last event in `mask` (-1 if none)."""
        out = np.full(self.n_conv, -1, dtype=np.int64)
        idx = np.nonzero(mask)[0]
        np.maximum.at(out, self.cidx[idx], idx)
        return out

    def ts_at(self, index: I64) -> I64:
        """Timestamps at per-conversation indexes; _MAX where the index is -1."""
        return np.where(index >= 0, self.ts[np.maximum(index, 0)], _MAX)


def _local_offsets(tz: tzinfo, low: int, high: int) -> tuple[I64, I64]:
    """UTC hour boundaries covering [low, high) and the zone's UTC offset (us) from each."""
    start = low - low % 3_600_000_000 - 3_600_000_000
    bounds = np.arange(start, high + 3_600_000_000, 3_600_000_000, dtype=np.int64)
    offsets = np.array(
        [
            int(
                (datetime.fromtimestamp(b / _US, tz).utcoffset() or timedelta()).total_seconds()
                * _US
            )
            for b in bounds.tolist()
        ],
        dtype=np.int64,
    )
    return bounds, offsets


def to_local(ts: I64, tz: tzinfo, low: int, high: int) -> I64:
    """Shift UTC microseconds to local wall-clock microseconds in `tz`."""
    if ts.size == 0:
        return ts
    bounds, offsets = _local_offsets(tz, min(low, int(ts.min())), max(high, int(ts.max()) + 1))
    slot = np.clip(np.searchsorted(bounds, ts, side="right") - 1, 0, bounds.size - 1)
    return ts + offsets[slot]


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
    f = frame if frame is not None else EventFrame(cols)
    visible = f.ts < high
    c = f.cols
    msg = f.kind(EventKind.MESSAGE_RECEIVED) & visible
    first_msg = f.first(msg)
    start = f.ts_at(first_msg)
    in_cohort = (start >= low) & (start < high)
    n = int(in_cohort.sum())
    # Events that count: those of the cohort, up to the end of the period.
    ev = in_cohort[f.cidx] & visible
    start_e = start[f.cidx]
    after_start = ev & (f.ts >= start_e)

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

    closing = after_start & (
        f.kind(EventKind.CLOSED) | (f.kind(EventKind.CONVERSATION_CLOSED) & ~f.label("abandoned"))
    )
    closed_ts = f.ts_at(f.last(closing))
    resolved = in_cohort & (closed_ts < _MAX)
    ended = in_cohort & (
        f.first(after_start & f.kind(EventKind.CLOSED, EventKind.CONVERSATION_CLOSED)) >= 0
    )

    outcome_i = f.last(after_start & f.kind(EventKind.CONVERSATION_CLOSED))
    self_service_code = c.code_of("self_service")
    self_service = (outcome_i >= 0) & (c.label[np.maximum(outcome_i, 0)] == self_service_code)
    helpful_i = f.first(after_start & f.kind(EventKind.FEEDBACK) & (c.flag == 1))
    deflected = in_cohort & (self_service | ((helpful_i >= 0) & ~has_handoff))

    queued_i = f.first(after_start & f.kind(EventKind.QUEUED))
    queued_ts = f.ts_at(queued_i)
    # A ticket may be taken without a queue entry (an operator grabbed it at once).
    taken_from = np.where(queued_i >= 0, queued_ts, start)
    taken_i = f.first(after_start & f.kind(EventKind.TAKEN) & (f.ts >= taken_from[f.cidx]))
    taken_ts = f.ts_at(taken_i)
    last_taken = f.last(after_start & f.kind(EventKind.TAKEN))
    owner = np.where(
        last_taken >= 0,
        c.operator[np.maximum(last_taken, 0)],
        np.where(human_i >= 0, c.operator[np.maximum(human_i, 0)], NONE_ID),
    )
    is_ticket = in_cohort & (has_handoff | (queued_i >= 0) | (last_taken >= 0))

    rating_i = f.last(after_start & f.kind(EventKind.RATING) & ~np.isnan(c.value))
    rating = np.where(rating_i >= 0, c.value[np.maximum(rating_i, 0)], np.nan)
    rated = in_cohort & (rating_i >= 0)
    requested = in_cohort & (f.first(after_start & f.kind(EventKind.RATING_REQUESTED)) >= 0)
    fcr_i = f.last(after_start & f.kind(EventKind.FCR) & (c.flag >= 0))
    has_fcr = in_cohort & (fcr_i >= 0)
    fcr_solved = has_fcr & (c.flag[np.maximum(fcr_i, 0)] == 1)

    bot_frt = (bot_first - start)[in_cohort & (bot_first < _MAX)]
    human_ok = has_handoff & (human_first < _MAX)
    human_frt = (human_first - handoff_ts)[human_ok]
    resolution = (closed_ts - start)[resolved]
    queue_ok = in_cohort & (queued_i >= 0) & (taken_ts < _MAX)
    queue_wait = (taken_ts - queued_ts)[queue_ok]

    reply_idx, reply_wait = _operator_responses(f, after_start, handoff_ts)

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
        tickets=int(is_ticket.sum()),
        open_tickets=int((is_ticket & ~resolved).sum()),
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

    operators = _operators(
        f,
        is_ticket,
        owner,
        human_ok,
        human_first - handoff_ts,
        human_i,
        resolved,
        closed_ts - start,
        rated,
        rating,
        reply_idx,
        reply_wait,
    )
    articles = _articles(f, after_start, handoff_ts)
    categories = _categories(f, after_start, in_cohort)
    local_start = to_local(start[in_cohort], tz, low, high)
    daily = _daily(local_start, has_handoff[in_cohort], deflected[in_cohort])
    hourly_conv = np.bincount(((local_start // 3_600_000_000) % 24).astype(np.int64), minlength=24)
    owned = is_ticket & (taken_ts < _MAX)
    load = _hourly_load(taken_ts[owned], np.minimum(closed_ts[owned], high), low, high, tz)

    gap = after_start & f.kind(EventKind.DECISION) & f.label("handoff")
    first_arms = c.arms[np.maximum(first_msg, 0)]
    per_conv = {
        "deflected": deflected[in_cohort].astype(np.float64),
        "handoff": has_handoff[in_cohort].astype(np.float64),
        "csat": np.where(rated, (rating >= 4).astype(np.float64), np.nan)[in_cohort],
        "resolution_s": np.where(resolved, (closed_ts - start) / _US, np.nan)[in_cohort],
    }
    return PeriodStats(
        since=since,
        until=until,
        summary=summary,
        operators=operators,
        articles=articles,
        categories=categories,
        daily=daily,
        hourly_load=load,
        hourly_conversations=[int(x) for x in hourly_conv],
        first_response_s=human_frt.astype(np.float64) / _US,
        gap_event_ids=c.event_id[gap],
        conversation_arms=first_arms[in_cohort].astype(np.int32),
        per_conversation=per_conv,
    )


def _operator_responses(f: EventFrame, after_start: Mask, handoff_ts: I64) -> tuple[I64, I64]:
    """Indexes of operator replies that answered pending input, and how long it waited."""
    after_handoff = after_start & (f.ts >= handoff_ts[f.cidx])
    user = after_handoff & f.kind(EventKind.MESSAGE_RECEIVED, EventKind.HANDOFF)
    oper = after_handoff & f.kind(EventKind.OPERATOR_REPLY)
    idx = np.nonzero(user | oper)[0]
    if idx.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Group by conversation, keep time order inside (idx is already time-sorted).
    idx = idx[np.argsort(f.cidx[idx], kind="stable")]
    conv = f.cidx[idx]
    is_user = user[idx]
    new_conv = np.ones(idx.size, dtype=bool)
    new_conv[1:] = conv[1:] != conv[:-1]
    prev_user = np.zeros(idx.size, dtype=bool)
    prev_user[1:] = is_user[:-1]
    run_start = is_user & (new_conv | ~prev_user)
    start_pos = np.where(run_start, np.arange(idx.size), 0)
    start_pos = np.maximum.accumulate(start_pos)
    answers = ~is_user & ~new_conv & prev_user
    pos = np.nonzero(answers)[0]
    waits = f.ts[idx[pos]] - f.ts[idx[start_pos[pos]]]
    return idx[pos], waits


def _operators(
    f: EventFrame,
    is_ticket: Mask,
    owner: I64,
    human_ok: Mask,
    human_frt: I64,
    human_i: I64,
    resolved: Mask,
    resolution: I64,
    rated: Mask,
    rating: npt.NDArray[np.float64],
    reply_idx: I64,
    reply_wait: I64,
) -> list[OperatorStats]:
    c = f.cols
    first_replier = np.where(human_i >= 0, c.operator[np.maximum(human_i, 0)], NONE_ID)
    reply_operator = c.operator[reply_idx]
    ids = set(owner[is_ticket].tolist()) | set(reply_operator.tolist())
    ids.discard(int(NONE_ID))
    out: list[OperatorStats] = []
    for op in sorted(ids):
        mine = is_ticket & (owner == op)
        mine_rated = mine & rated
        out.append(
            OperatorStats(
                operator_id=int(op),
                tickets=int(mine.sum()),
                first_response_median_s=median_s(human_frt[human_ok & (first_replier == op)]),
                response_median_s=median_s(reply_wait[reply_operator == op]),
                resolution_median_s=median_s(resolution[mine & resolved]),
                csat=ratio(int((mine_rated & (rating >= 4)).sum()), int(mine_rated.sum())),
                ratings=int(mine_rated.sum()),
            )
        )
    return out


def _explode_items(c: EventColumns, rows: I64) -> tuple[I64, I64, list[str]]:
    """(row, article code) for every article listed in the `items` of those rows.

    Articles seen only inside suggestion lists get codes past the table's strings; their
    names are returned third.
    """
    items = c.items[rows]
    has = items != NO_CODE
    rows, items = rows[has], items[has]
    if rows.size == 0:
        return rows, rows, []
    uniq, inverse = np.unique(items, return_inverse=True)
    lists = [c.strings[u].split(ITEM_SEP) for u in uniq.tolist()]
    width = max(len(lst) for lst in lists)
    lookup: dict[str, int] = {s: i for i, s in enumerate(c.strings)}
    extra: list[str] = []
    matrix = np.full((uniq.size, width), -1, dtype=np.int64)
    for r, lst in enumerate(lists):
        for k, article in enumerate(lst):
            code = lookup.get(article)
            if code is None:
                code = lookup[article] = len(c.strings) + len(extra)
                extra.append(article)
            matrix[r, k] = code
    expanded = matrix[inverse]
    keep = expanded >= 0
    out_rows = np.repeat(rows, width).reshape(rows.size, width)[keep]
    return out_rows, expanded[keep], extra


def _articles(f: EventFrame, after_start: Mask, handoff_ts: I64) -> list[ArticleStats]:
    c = f.cols
    shown_rows, shown_codes, extra = _explode_items(
        c, np.nonzero(after_start & f.kind(EventKind.SUGGESTION_SHOWN))[0]
    )
    names = list(c.strings) + extra
    size = len(names)
    shown = np.bincount(shown_codes, minlength=size)
    art = c.article
    opened_m = after_start & f.kind(EventKind.ARTICLE_OPENED) & (art != NO_CODE)
    opened = np.bincount(art[opened_m], minlength=size)
    fb = after_start & f.kind(EventKind.FEEDBACK) & (art != NO_CODE)
    helpful = np.bincount(art[fb & (c.flag == 1)], minlength=size)
    not_helpful = np.bincount(art[fb & (c.flag == 0)], minlength=size)
    # A handoff "followed" an article when it came after the article was first shown.
    handoff_after = np.zeros(size, dtype=np.int64)
    if shown_rows.size:
        conv = f.cidx[shown_rows]
        pair = conv.astype(np.int64) * size + shown_codes
        uniq, first_pos = np.unique(pair, return_index=True)
        first_ts = f.ts[shown_rows[first_pos]]
        followed = handoff_ts[uniq // size] > first_ts
        followed &= handoff_ts[uniq // size] < _MAX
        handoff_after = np.bincount(uniq[followed] % size, minlength=size)
    out: list[ArticleStats] = []
    used = np.nonzero(shown + opened + helpful + not_helpful)[0]
    for code in used.tolist():
        judged = int(helpful[code] + not_helpful[code])
        out.append(
            ArticleStats(
                article_id=names[code],
                shown=int(shown[code]),
                opened=int(opened[code]),
                helpful=int(helpful[code]),
                not_helpful=int(not_helpful[code]),
                handoff_after=int(handoff_after[code]),
                helpful_rate=ratio(int(helpful[code]), judged),
                handoff_after_rate=ratio(int(handoff_after[code]), int(shown[code])),
            )
        )
    # Rewrite first what hurt the most people: rejections plus handoffs after showing it.
    out.sort(key=lambda a: (-(a.not_helpful + a.handoff_after), -a.shown, a.article_id))
    return out


def _categories(
    f: EventFrame, after_start: Mask, in_cohort: Mask
) -> dict[tuple[str, str | None], int]:
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


def _hourly_load(starts: I64, ends: I64, low: int, high: int, tz: tzinfo) -> list[float]:
    """Mean number of tickets open at once (taken, not closed) per local hour of day."""
    bounds = np.arange(low - low % 3_600_000_000, high + 3_600_000_000, 3_600_000_000)
    bounds = bounds[(bounds >= low - 3_600_000_000)]
    if bounds.size < 2 or starts.size == 0:
        return [0.0] * 24 if bounds.size >= 2 else []
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
    return [float(a / w) if w > 0 else 0.0 for a, w in zip(sums, widths, strict=True)]


Clusterer = Callable[[npt.NDArray[np.float32], int], npt.NDArray[np.int64]]
