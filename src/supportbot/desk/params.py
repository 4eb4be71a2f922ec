"""The desk's knobs, as values (the composition root fills them from the `desk` config)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True, slots=True)
class DeskParams:
    """The desk's knobs (from the `desk` config section)."""

    enabled: bool = True
    capacity: int = 4
    auto_assign: bool = False
    require_category: bool = True
    reopen_grace: timedelta = timedelta(minutes=30)
    categories: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    show_operator_name: bool = False
    default_handling_s: float = 600.0
    handling_window: int = 50
    comment_window: timedelta = timedelta(minutes=15)
    canned_limit: int = 5
    # {operator} in canned replies when operators' names are not shown, by language
    anonymous_operator: Mapping[str, str] = field(default_factory=dict)
    # Tell a queued user their new place only when the estimate moves this much.
    notice_min_change_s: float = 60.0
    notice_min_change_ratio: float = 0.25
    # How long a handoff reply waits for the ticket's card before it goes anyway.
    card_wait_s: float = 2.0
