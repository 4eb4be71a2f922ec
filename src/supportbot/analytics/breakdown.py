"""Per-operator and per-article figures, cut from the same per-conversation arrays as the
headline (so an operator's median means what the headline's means), and the small helpers
every figure uses (medians and p90 in seconds, ratios that are None without data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from supportbot.analytics.frame import Mask, Rows
from supportbot.analytics.table import ITEM_SEP, NO_CODE, NONE_ID, EventColumns
from supportbot.domain.events import EventKind

I64 = npt.NDArray[np.int64]
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
    name: str
    tickets: int
    first_response_median_s: float | None
    first_response_p90_s: float | None
    response_median_s: float | None
    resolution_median_s: float | None
    csat: float | None
    ratings: int
    rating_response_rate: float | None
    fcr: float | None


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
    harm: float = 0.0
    """Bad outcomes (not-helpful votes + handoffs after it) beyond what an average article
    shown as often would get; > 0 means rewrite it (see `article_stats`)."""
    title: str = ""


HARM_PRIOR_SHOWS = 30
"""An article's bad-outcome rate is shrunk toward the average as if it had been shown this
many more times at the average rate: a few unlucky showings do not top the list."""


def operator_responses(f: Rows, after_start: Mask, handoff_ts: I64) -> tuple[I64, I64]:
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


@dataclass(frozen=True, slots=True)
class PerConversation:
    """Per-conversation arrays the operator table is cut from."""

    is_ticket: Mask
    owner: I64
    human_ok: Mask
    human_frt: I64
    first_replier: I64
    resolved: Mask
    resolution: I64
    rated: Mask
    rating: npt.NDArray[np.float64]
    requested: Mask
    has_fcr: Mask
    fcr_solved: Mask


def operator_names(f: Rows) -> dict[int, str]:
    """The latest name seen per operator id (`taken` and `operator_reply` carry it)."""
    c = f.cols
    rows = np.nonzero(
        f.kind(EventKind.TAKEN, EventKind.OPERATOR_REPLY)
        & (c.operator != NONE_ID)
        & (c.label != NO_CODE)
    )[0]
    if rows.size == 0:
        return {}
    backwards = rows[::-1]  # rows are in time order: the first hit backwards is the latest
    ids, first = np.unique(c.operator[backwards], return_index=True)
    labels = c.label[backwards[first]]
    return {int(i): c.strings[int(code)] for i, code in zip(ids, labels, strict=True)}


def operator_stats(
    f: Rows, p: PerConversation, reply_idx: I64, reply_wait: I64
) -> list[OperatorStats]:
    reply_operator = f.cols.operator[reply_idx]
    ids = set(p.owner[p.is_ticket].tolist()) | set(reply_operator.tolist())
    ids.discard(int(NONE_ID))
    names = operator_names(f)
    out: list[OperatorStats] = []
    for op in sorted(ids):
        mine = p.is_ticket & (p.owner == op)
        mine_rated = mine & p.rated
        mine_requested = mine & p.requested
        mine_fcr = mine & p.has_fcr
        first = p.human_frt[p.human_ok & (p.first_replier == op)]
        out.append(
            OperatorStats(
                operator_id=int(op),
                name=names.get(int(op), str(op)),
                tickets=int(mine.sum()),
                first_response_median_s=median_s(first),
                first_response_p90_s=p90_s(first),
                response_median_s=median_s(reply_wait[reply_operator == op]),
                resolution_median_s=median_s(p.resolution[mine & p.resolved]),
                csat=ratio(int((mine_rated & (p.rating >= 4)).sum()), int(mine_rated.sum())),
                ratings=int(mine_rated.sum()),
                rating_response_rate=ratio(
                    int((mine_requested & p.rated).sum()), int(mine_requested.sum())
                ),
                fcr=ratio(int((mine_fcr & p.fcr_solved).sum()), int(mine_fcr.sum())),
            )
        )
    out.sort(key=lambda o: (-o.tickets, o.name, o.operator_id))
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


def article_stats(f: Rows, after_start: Mask, handoff_ts: I64) -> list[ArticleStats]:
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
    bad = not_helpful + handoff_after
    total_shown = int(shown.sum())
    base = float(bad.sum()) / total_shown if total_shown else 0.0
    # Harm: how many more bad outcomes than an average article at the same exposure,
    # with the article's rate shrunk toward the average (see HARM_PRIOR_SHOWS).
    rate = (bad + HARM_PRIOR_SHOWS * base) / (shown + HARM_PRIOR_SHOWS)
    harm = shown * (rate - base)
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
                harm=round(float(harm[code]), 1),
            )
        )
    # Rewrite first what does the most harm beyond the average, not what is shown most.
    out.sort(key=lambda a: (-a.harm, -a.shown, a.article_id))
    return out
