"""The desk's pure rooms: ticket transitions and queue policy, without storage or Telegram."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from desk_fakes import T0
from supportbot.desk import queue
from supportbot.desk.models import ClosedBy, Operator, Ticket, TicketStatus

OLGA = Operator(1, "Olga", online=True)
PAVEL = Operator(2, "Pavel", online=True, last_assigned_at=T0)
IGOR = Operator(3, "Igor", online=False)


def _ticket(ticket_id: int, **changes: object) -> Ticket:
    base = Ticket(ticket_id, 100 + ticket_id, f"c{ticket_id}", "Ivan", T0, T0)
    return replace(base, **changes)  # type: ignore[arg-type]


def test_ticket_assign_keeps_the_first_assignment_and_names_the_operator() -> None:
    told = _ticket(1).told(2, 300.0)
    taken = told.assign(1, "Olga", T0 + timedelta(minutes=1))
    assert (taken.status, taken.operator_id, taken.operator_name) == (
        TicketStatus.ASSIGNED,
        1,
        "Olga",
    )
    assert (taken.notified_position, taken.notified_wait_s) == (None, None)
    moved = taken.assign(2, "Pavel", T0 + timedelta(minutes=5))
    assert moved.assigned_at == T0 + timedelta(minutes=1)  # a transfer is not a new take


def test_ticket_requeue_and_reopen_forget_the_operator() -> None:
    taken = _ticket(1).assign(1, "Olga", T0)
    back = taken.requeue(T0 + timedelta(minutes=3))
    assert (back.status, back.operator_id, back.operator_name) == (TicketStatus.QUEUED, None, None)
    assert back.queued_at == T0 + timedelta(minutes=3)
    closed = taken.close(T0 + timedelta(minutes=9), ClosedBy.OPERATOR, "payments", "refunds")
    assert closed.handling_s == 540.0
    assert (closed.category, closed.subcategory, closed.is_open) == ("payments", "refunds", False)
    rated = replace(closed, solved=True, rating=5, comment="thanks")
    again = rated.reopen(T0 + timedelta(minutes=10), conversation_id="c9")
    assert (again.status, again.operator_id, again.reopened) == (TicketStatus.QUEUED, None, 1)
    assert (again.solved, again.rating, again.comment, again.closed_at) == (None,) * 4
    assert again.conversation_id == "c9"
    assert rated.reopen(T0).conversation_id == "c1"  # kept when none is given


def test_ticket_answered_measures_from_the_oldest_unanswered_message() -> None:
    waiting = _ticket(1).received(T0, (11,)).received(T0 + timedelta(seconds=30), (12, 11))
    assert waiting.awaiting_since == T0
    assert waiting.pending_copies == (11, 12)
    answered, response = waiting.answered(T0 + timedelta(seconds=90))
    assert response == 90.0
    assert answered.awaiting_since is None
    assert answered.first_response_at == T0 + timedelta(seconds=90)
    again, none = answered.answered(T0 + timedelta(seconds=120))
    assert none is None  # nothing was waiting for an answer
    assert again.first_response_at == T0 + timedelta(seconds=90)


def test_queue_loads_positions_and_who_gets_the_next_ticket() -> None:
    tickets = [
        _ticket(1, status=TicketStatus.ASSIGNED, operator_id=1),
        _ticket(2),
        _ticket(3),
        _ticket(4, status=TicketStatus.ASSIGNED, operator_id=1),
    ]
    load = queue.loads(tickets)
    assert load == {1: 2}
    assert [t.id for t in queue.queued(tickets)] == [2, 3]
    assert queue.position(tickets, 3) == 2
    assert queue.position(tickets, 1) == 1  # not queued
    # The least loaded online operator; on a tie, the one assigned longest ago.
    assert queue.choose_operator([OLGA, PAVEL, IGOR], load, capacity=4) is PAVEL
    assert queue.choose_operator([OLGA, PAVEL], {1: 0, 2: 0}, capacity=4) is OLGA
    assert queue.choose_operator([OLGA, IGOR], {1: 4}, capacity=4) is None


def test_queue_wait_estimate_from_the_median_handling_time() -> None:
    estimate = queue.estimate_wait(
        3, handling_s=[100.0, 300.0, 200.0], operators=[OLGA, IGOR], capacity=2,
        default_handling_s=600.0,
    )  # fmt: skip
    assert estimate == 3 * 200.0 / (1 * 2)  # only Olga is online
    nobody = queue.estimate_wait(
        1, handling_s=[], operators=[], capacity=4, default_handling_s=600.0
    )
    assert nobody == 150.0


def test_queue_notices_only_when_the_place_moves_noticeably() -> None:
    def told(position: int | None, wait: float | None) -> Ticket:
        return _ticket(1).told(position, wait)

    def notice(ticket: Ticket, place: int, wait: float) -> bool:
        return queue.noticeable(ticket, place, wait, min_change_s=60.0, min_change_ratio=0.25)

    assert notice(told(None, None), 3, 900.0)  # never told (after hours)
    assert not notice(told(3, 900.0), 3, 600.0)  # same place
    assert notice(told(3, 900.0), 1, 880.0)  # first in line is always worth saying
    assert not notice(told(3, 900.0), 2, 800.0)  # 100 s of 900: under a quarter
    assert notice(told(3, 900.0), 2, 600.0)


def test_queue_transfer_targets_online_first_then_least_loaded() -> None:
    targets = queue.transfer_targets([IGOR, PAVEL, OLGA], {1: 3, 2: 1}, current=None)
    assert [(t.operator.name, t.load) for t in targets] == [("Pavel", 1), ("Olga", 3), ("Igor", 0)]
    assert [t.operator.id for t in queue.transfer_targets([OLGA, PAVEL], {}, current=1)] == [2]
