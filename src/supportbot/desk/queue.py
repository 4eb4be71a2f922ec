"""Queue policy as pure functions: loads, positions, wait estimates, the choice of operator."""

from __future__ import annotations

import statistics
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from supportbot.desk.models import Operator, Ticket, TicketStatus

_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class OperatorLoad:
    """An operator with the number of tickets they hold now."""

    operator: Operator
    load: int


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """What `/queue` shows."""

    length: int
    oldest_wait_s: float | None
    assigned: int
    operators: tuple[OperatorLoad, ...]
    is_open: bool
    opens_at: datetime | None


def queued(open_tickets: Iterable[Ticket]) -> list[Ticket]:
    """The queued tickets, in the order given (the repository's: oldest first)."""
    return [t for t in open_tickets if t.status is TicketStatus.QUEUED]


def loads(open_tickets: Iterable[Ticket]) -> dict[int, int]:
    """How many assigned tickets each operator holds."""
    counts: dict[int, int] = {}
    for ticket in open_tickets:
        if ticket.status is TicketStatus.ASSIGNED and ticket.operator_id is not None:
            counts[ticket.operator_id] = counts.get(ticket.operator_id, 0) + 1
    return counts


def position(open_tickets: Iterable[Ticket], ticket_id: int) -> int:
    """The ticket's 1-based place in the queue (1 when it is not queued)."""
    ids = [t.id for t in queued(open_tickets)]
    return ids.index(ticket_id) + 1 if ticket_id in ids else 1


def estimate_wait(
    place: int,
    *,
    handling_s: Sequence[float],
    operators: Collection[Operator],
    capacity: int,
    default_handling_s: float,
) -> float:
    """Seconds until a free operator, from the recent median handling time."""
    median = statistics.median(handling_s) if handling_s else None
    per_ticket = median or default_handling_s
    online = [op for op in operators if op.online]
    servers = len(online) or len(operators) or 1
    return place * per_ticket / (servers * capacity)


def choose_operator(
    operators: Iterable[Operator], load: Mapping[int, int], capacity: int
) -> Operator | None:
    """For auto assignment: the least loaded online operator with room, the one assigned
    longest ago on a tie; None when nobody has room."""
    free = [op for op in operators if op.online and load.get(op.id, 0) < capacity]
    if not free:
        return None
    return min(free, key=lambda op: (load.get(op.id, 0), op.last_assigned_at or _EPOCH, op.id))


def noticeable(
    ticket: Ticket, place: int, wait_s: float, *, min_change_s: float, min_change_ratio: float
) -> bool:
    """Whether a queued user should be told their new place (it moved noticeably)."""
    if ticket.notified_position is None:
        return True  # after hours nobody was told a place yet
    if place == ticket.notified_position:
        return False
    if place == 1:
        return True
    before = ticket.notified_wait_s or 0.0
    return abs(before - wait_s) >= max(min_change_s, min_change_ratio * before)


def transfer_targets(
    operators: Iterable[Operator], load: Mapping[int, int], current: int | None
) -> list[OperatorLoad]:
    """Operators a ticket can go to (not `current`), online first, then least loaded."""
    targets = [OperatorLoad(op, load.get(op.id, 0)) for op in operators if op.id != current]
    return sorted(targets, key=lambda t: (not t.operator.online, t.load, t.operator.name))


def queue_info(
    open_tickets: Sequence[Ticket],
    operators: Iterable[Operator],
    now: datetime,
    *,
    is_open: bool,
    opens_at: datetime | None,
) -> QueueInfo:
    """Queue length, the oldest wait, and every operator's load."""
    waiting = queued(open_tickets)
    load = loads(open_tickets)
    oldest = min((t.queued_at for t in waiting), default=None)
    return QueueInfo(
        length=len(waiting),
        oldest_wait_s=(now - oldest).total_seconds() if oldest is not None else None,
        assigned=len(open_tickets) - len(waiting),
        operators=tuple(
            OperatorLoad(op, load.get(op.id, 0)) for op in sorted(operators, key=lambda o: o.name)
        ),
        is_open=is_open,
        opens_at=opens_at,
    )
