"""Event columns: kind masks, frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from supportbot.analytics.frame import EventFrame
from supportbot.analytics.kpis import compute_period
from supportbot.analytics.table import columns_from
from supportbot.domain.events import Event, EventKind

T0 = datetime(2024, 3, 4, tzinfo=UTC)
KINDS = [EventKind.MESSAGE_RECEIVED, EventKind.BOT_REPLY, EventKind.HANDOFF, EventKind.FEEDBACK]


def _events(start: int, count: int, prefix: str) -> list[Event]:
    return [
        Event(
            T0 + timedelta(seconds=start + i),
            KINDS[i % len(KINDS)],
            f"{prefix}{i % 5}",
            start + i,
            data={"helpful": i % 2 == 0, "reason": f"r{i % 3}"},
            arms={"exp": "A" if i % 2 else "B"},
        )
        for i in range(count)
    ]


def test_kind_mask_any_number_of_kinds() -> None:
    cols = columns_from(_events(0, 12, "a"))
    kinds = [cols.strings[c] for c in cols.kind.tolist()]
    for wanted in (KINDS[:1], KINDS[:2], KINDS[:3], [EventKind.RATING], []):
        mask = cols.kind_mask(*wanted)
        assert mask.tolist() == [k in wanted for k in kinds]


def test_event_frame_reorders_a_few_late_rows_in_place_with_the_same_results() -> None:
    events = _events(0, 40, "a")
    events[5], events[6] = events[6], events[5]  # two writers raced: one row logged late
    cols = columns_from(events)
    copied = compute_period(cols, T0, T0 + timedelta(days=1), UTC)
    assert not bool(np.all(np.diff(cols.ts) >= 0))
    frame = EventFrame(cols, reorder_in_place=True)
    assert frame.cols is cols  # handed over, fixed in place: no copy
    assert bool(np.all(np.diff(cols.ts) >= 0))
    in_place = compute_period(frame.cols, T0, T0 + timedelta(days=1), UTC, frame=frame)
    assert in_place.summary == copied.summary
