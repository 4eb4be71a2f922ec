"""Events sorted by time with each event's conversation index: the KPIs' lookups.

`first`/`last` give, per conversation, the first or last row in a mask; `window` hands out
a time range without copying; `to_local` shifts UTC microseconds to wall-clock time.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from supportbot.analytics.table import EventColumns
from supportbot.domain.events import EventKind

I64 = npt.NDArray[np.int64]
ScalarT = TypeVar("ScalarT", bound=np.generic)
Mask = npt.NDArray[np.bool_]
_MAX = np.iinfo(np.int64).max
_US = 1_000_000.0


class Rows:
    """Time-ordered event rows, each with its conversation's index, plus per-conversation
    lookups (first/last row in a mask)."""

    def __init__(self, cols: EventColumns, cidx: I64, n_conv: int) -> None:
        self.cols = cols
        self.cidx = cidx
        self.n_conv = n_conv
        self.ts = cols.ts
        self._kinds: dict[tuple[EventKind, ...], Mask] = {}

    def kind(self, *kinds: EventKind) -> Mask:
        """Rows of any of these kinds (cached: the same masks are asked for many times)."""
        found = self._kinds.get(kinds)
        if found is None:
            found = self._kinds[kinds] = self._kind_mask(kinds)
        return found

    def _kind_mask(self, kinds: tuple[EventKind, ...]) -> Mask:
        return self.cols.kind_mask(*kinds)

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
        return self.pick(self.ts, index, _MAX)

    def pick(self, values: npt.NDArray[ScalarT], index: I64, fill: Any) -> npt.NDArray[ScalarT]:
        """`values` (a row column) at per-conversation indexes; `fill` where it is -1."""
        if values.size == 0:
            return np.full(index.shape, fill, dtype=values.dtype)
        return np.where(index >= 0, values[np.maximum(index, 0)], fill)


class _Window(Rows):
    """A contiguous time range of a frame's rows: views, and slices of its cached masks."""

    def __init__(self, frame: EventFrame, rows: slice) -> None:
        super().__init__(frame.cols.select(rows), frame.cidx[rows], frame.n_conv)
        self._frame = frame
        self._rows = rows

    def _kind_mask(self, kinds: tuple[EventKind, ...]) -> Mask:
        return self._frame.kind(*kinds)[self._rows]


class EventFrame(Rows):
    """Events sorted by time with each event's conversation index, plus lookup helpers.

    One frame serves several periods: `window` hands out the rows of a time range without
    copying, so each period's KPIs touch only its own events.
    """

    def __init__(self, cols: EventColumns, *, reorder_in_place: bool = False) -> None:
        """Sort `cols` by time (ties by event id).

        With `reorder_in_place`, the caller hands `cols` over: when only a few rows are out
        of order (a log's usual state) they are moved inside its own arrays instead of
        copying a month of events once more; `cols` then reads in time order too.
        """
        if cols.ts.size < 2 or bool(np.all(cols.ts[1:] >= cols.ts[:-1])):
            order = None  # the store sorted them (by time, then id): nothing to do
        elif bool(np.all(np.diff(cols.event_id) > 0)):
            # Logs hand out events in id order, nearly sorted by time: a stable sort is
            # much faster there and breaks ties by id just like the lexsort below.
            order = np.argsort(cols.ts, kind="stable")
        else:
            order = np.lexsort((cols.event_id, cols.ts))
        moved = (
            np.nonzero(order != np.arange(order.size))[0]
            if order is not None
            else np.zeros(0, dtype=np.int64)
        )
        if order is None or moved.size == 0:
            pass  # already in order: no copy
        elif reorder_in_place and moved.size * 4 <= order.size and cols.writeable():
            cols.move_rows(moved, order[moved])
        else:
            cols = cols.select(order)
        conv = cols.conversation
        low = int(conv.min()) if conv.size else 0
        span = int(conv.max()) - low + 1 if conv.size else 0
        if conv.size and low >= 0 and span <= 2 * conv.size:
            # Dense conversation numbers (the event store's): the number is the index, no
            # sort of millions of keys needed; unused numbers are conversations with no
            # events here, which no cohort ever contains.
            super().__init__(cols, conv - low, span)
        else:
            _, inverse = np.unique(conv, return_inverse=True)
            super().__init__(cols, inverse.astype(np.int64).reshape(-1), int(_.shape[0]))
        self._first_message: I64 | None = None

    def first_message(self) -> I64:
        """Per conversation, the row of its first `message_received` (-1 if none)."""
        if self._first_message is None:
            self._first_message = self.first(self.kind(EventKind.MESSAGE_RECEIVED))
        return self._first_message

    def window(self, low: int, high: int) -> Rows:
        """The rows with low <= ts < high (microseconds)."""
        a, b = (int(x) for x in np.searchsorted(self.ts, [low, high], side="left"))
        return _Window(self, slice(a, b))


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
