"""The ticket's state machine with its consequences: each transition is stored (refused as
`changed` when someone else moved the ticket first), and collects the events to record and
the effects to send once the desk's lock is released."""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from supportbot.desk import queue
from supportbot.desk.bans import Bans
from supportbot.desk.delivery import Delivery, Effect
from supportbot.desk.errors import Refusals
from supportbot.desk.feedback import Feedback
from supportbot.desk.hours import WorkingHours
from supportbot.desk.journal import Journal
from supportbot.desk.models import ClosedBy, Message, NewTicket, Notice, Operator, Ticket
from supportbot.desk.models import TicketStatus as Status
from supportbot.desk.params import DeskParams
from supportbot.desk.ports import StaffRepository, TicketRepository
from supportbot.domain.events import Event, EventKind
from supportbot.domain.handoff import HandoffRequest, HandoffState, HandoffStatus


class Changes:
    """What one state change calls for: effects to send and events to record."""

    __slots__ = ("effects", "events")

    def __init__(self) -> None:
        self.effects: list[Effect] = []
        self.events: list[Event] = []


class Workflow:
    """Transitions of stored tickets, and the operators' roster they need (capacity, names)."""

    def __init__(
        self,
        *,
        tickets: TicketRepository,
        staff: StaffRepository,
        params: DeskParams,
        hours: WorkingHours,
        lock: asyncio.Lock,
        refuse: Refusals,
        journal: Journal,
        send: Delivery,
        bans: Bans,
        feedback: Feedback,
        clock: Callable[[], datetime],
    ) -> None:
        self._tickets = tickets
        self._staff = staff
        self.params = params
        self.hours = hours
        self._lock = lock
        self._refuse = refuse
        self._journal = journal
        self._send = send
        self._bans = bans
        self._feedback = feedback
        self._clock = clock
        self.operators: dict[int, Operator] = {}
        self.handling: deque[float] = deque(maxlen=params.handling_window)
        self.handing_off: set[int] = set()  # tickets whose handoff reply is not sent yet

    def draft(
        self, request: HandoffRequest, now: datetime, latest: Ticket | None, category: str | None
    ) -> NewTicket:
        """A new ticket for the handoff (`latest`: the user's previous ticket)."""
        return NewTicket(
            user_id=request.user.user_id,
            conversation_id=request.conversation_id,
            user_name=request.user.first_name,
            username=request.user.username,
            lang=request.user.lang,
            subject=request.subject,
            reason=request.reason.value,
            created_at=now,
            transcript=request.transcript,
            article_id=request.article_id,
            failed_step=request.failed_step,
            suggested_category=category,
            previous_id=latest.id if latest is not None else None,
            assist_articles=request.suggested_articles,
        )

    async def commit(self, before: Ticket, after: Ticket) -> Ticket:
        """Save a transition, refused as `changed` when someone else moved the ticket."""
        if not await self._tickets.save(after, expect=before.status):
            raise self._refuse("changed")
        return after

    async def finish(self, changes: Changes, *, wait: bool = True) -> None:
        """Record the events, then send the effects (see `Delivery.run` for `wait`)."""
        await self._journal.record(changes.events)
        await self._send.run(changes.effects, wait=wait)

    def within_grace(self, ticket: Ticket, now: datetime) -> bool:
        return (
            ticket.closed_at is not None
            and ticket.closed_by is not ClosedBy.BOT
            and now - ticket.closed_at <= self.params.reopen_grace
            and ticket.user_id not in self._bans
        )

    async def reopen(
        self, ticket: Ticket, now: datetime, changes: Changes, request: HandoffRequest | None
    ) -> Ticket:
        """Reopen a recently closed ticket; its operator gets it back if they have room."""
        if request is None:
            reopened = ticket.reopen(now)
        else:
            reopened = ticket.reopen(now, request.transcript, request.conversation_id)
        reopened = await self.commit(ticket, reopened)
        self._feedback.forget(ticket.user_id)
        changes.effects += [
            self._send.topic(ticket.id, True),
            self._send.to_staff(ticket.id, Message(Notice.STAFF_REOPENED)),
        ]
        previous = ticket.operator_id
        operator = self.operators.get(previous) if previous is not None else None
        if (
            operator is not None
            and self.hours.is_open(now)
            and await self.load_of(operator.id) < self.params.capacity
        ):
            assigned = await self.assign(reopened, operator, now, changes)
            if assigned is not None:
                return assigned
        changes.effects.append(self._send.card(ticket.id))
        return reopened

    async def assign(
        self,
        ticket: Ticket,
        operator: Operator,
        now: datetime,
        changes: Changes,
        *,
        tell: bool = True,
    ) -> Ticket | None:
        taken = ticket.assign(operator.id, operator.name, now)
        if not await self._tickets.save(taken, expect=Status.QUEUED):
            return None
        operator = replace(operator, last_assigned_at=now)
        self.operators[operator.id] = operator
        await self._staff.save_operator(operator)
        wait_s = round((now - ticket.queued_at).total_seconds(), 3)
        changes.events.append(
            self._journal.event(EventKind.TAKEN, taken, now, wait_s=wait_s, operator=operator.name)
        )
        if tell:
            shown = operator.name if self.params.show_operator_name else ""
            changes.effects.append(
                self._send.to_user(taken, Notice.ASSIGNED, operator=shown, ticket_id=taken.id)
            )
        changes.effects += [
            self._send.to_staff(
                taken.id, Message(Notice.STAFF_TAKEN, {"operator": operator.name})
            ),
            self._send.card(taken.id),
        ]
        return taken

    async def requeue(
        self, ticket: Ticket, by: Operator, now: datetime, changes: Changes
    ) -> Ticket:
        if ticket.status is Status.QUEUED:
            raise self._refuse("not_assigned")
        moved = await self.commit(ticket, ticket.requeue(now))
        changes.events.append(self._journal.event(EventKind.QUEUED, moved, now, returned=True))
        changes.effects += [
            self._send.to_staff(ticket.id, Message(Notice.STAFF_RETURNED, {"by": by.name})),
            self._send.card(ticket.id),
        ]
        await self.queue_notices(now, changes)
        return moved

    async def hand_to(
        self, ticket: Ticket, by: Operator, target_id: int, now: datetime, changes: Changes
    ) -> Ticket:
        target = self.operators.get(target_id)
        if target is None:
            raise self._refuse("unknown_item")
        if target_id == ticket.operator_id:
            raise self._refuse("already_yours" if target_id == by.id else "taken")
        if await self.load_of(target_id) >= self.params.capacity:
            raise self._refuse("target_at_capacity", capacity=self.params.capacity)
        notice = Message(Notice.STAFF_TRANSFERRED, {"to": target.name, "by": by.name})
        if ticket.status is Status.QUEUED:
            assigned = await self.assign(ticket, target, now, changes)
            if assigned is None:
                raise self._refuse("changed")
            changes.effects.append(self._send.to_staff(ticket.id, notice))
            await self.queue_notices(now, changes)
            return assigned
        moved = await self.commit(ticket, ticket.assign(target_id, target.name, now))
        changes.events.append(
            self._journal.event(EventKind.TAKEN, moved, now, transfer=True, operator=target.name)
        )
        changes.effects += [self._send.to_staff(ticket.id, notice), self._send.card(ticket.id)]
        return moved

    async def close(
        self,
        ticket: Ticket,
        now: datetime,
        by: ClosedBy,
        changes: Changes,
        category: str | None = None,
        subcategory: str | None = None,
        *,
        solved_by_bot: bool = False,
    ) -> Ticket:
        closed = await self.commit(ticket, ticket.close(now, by, category, subcategory))
        if closed.handling_s is not None:
            self.handling.append(closed.handling_s)
        changes.events.append(
            self._journal.event(
                EventKind.CLOSED,
                closed,
                now,
                category=category,
                subcategory=subcategory,
                by=by.value,
                solved_by_bot=solved_by_bot,
                reopened=ticket.reopened,
            )
        )
        notice = Notice.STAFF_CLOSED_BY_USER if by is ClosedBy.USER else Notice.STAFF_CLOSED
        filed = {"category": category or "", "subcategory": subcategory or ""}
        changes.effects += [
            self._send.to_staff(ticket.id, Message(notice, filed)),
            self._send.card(ticket.id),
            self._send.topic(ticket.id, False),
        ]
        return closed

    async def close_by_user(
        self, user_id: int, *, solved_by_bot: bool, ask_rating: bool, solved: bool | None = True
    ) -> bool:
        now = self._clock()
        changes = Changes()
        async with self._lock:
            latest = await self._tickets.latest_for_user(user_id)
            if latest is None or not latest.is_open:
                return False
            was_assigned = latest.status is Status.ASSIGNED
            closed = await self.close(
                latest,
                now,
                ClosedBy.USER,
                changes,
                latest.suggested_category,
                solved_by_bot=solved_by_bot,
            )
            if ask_rating and was_assigned and solved is None:
                changes.events.append(self._journal.event(EventKind.RATING_REQUESTED, closed, now))
                changes.effects.append(
                    self._send.to_user(closed, Notice.CLOSED_ASK_FCR, ticket_id=closed.id)
                )
            elif ask_rating and was_assigned:
                closed = replace(closed, solved=solved)
                await self._tickets.save(closed)
                changes.events += [
                    self._journal.event(
                        EventKind.FCR, closed, now, solved=solved, reopened=closed.reopened
                    ),
                    self._journal.event(EventKind.RATING_REQUESTED, closed, now),
                ]
                changes.effects.append(
                    self._send.to_user(closed, Notice.ASK_RATING, ticket_id=closed.id)
                )
            await self.dispatch(now, changes)
        await self.finish(changes)
        return True

    async def dispatch(self, now: datetime, changes: Changes, *, skip: int | None = None) -> None:
        """Auto assignment (least loaded online operator, oldest ticket first) + notices."""
        if self.params.auto_assign and self.hours.is_open(now):
            open_tickets = await self._tickets.open_tickets()
            load = queue.loads(open_tickets)
            for ticket in queue.queued(open_tickets):
                chosen = queue.choose_operator(self.operators.values(), load, self.params.capacity)
                if chosen is None:
                    break
                # The handoff reply itself tells the user being handed off.
                if await self.assign(ticket, chosen, now, changes, tell=ticket.id != skip):
                    load[chosen.id] = load.get(chosen.id, 0) + 1
        await self.queue_notices(now, changes, skip=skip)

    async def queue_notices(
        self, now: datetime, changes: Changes, *, skip: int | None = None
    ) -> None:
        """Tell queued users their new place when it changed noticeably (but not `skip`,
        who is being told by the handoff reply itself)."""
        if not self.hours.is_open(now):
            return
        waiting = queue.queued(await self._tickets.open_tickets())
        for place, ticket in enumerate(waiting, 1):
            wait = self.estimate(place)
            if ticket.id == skip or ticket.id in self.handing_off:
                continue
            if not queue.noticeable(
                ticket,
                place,
                wait,
                min_change_s=self.params.notice_min_change_s,
                min_change_ratio=self.params.notice_min_change_ratio,
            ):
                continue
            updated = ticket.told(place, wait)
            await self._tickets.save(updated)
            minutes = max(1, math.ceil(wait / 60))
            changes.effects.append(
                self._send.to_user(updated, Notice.QUEUE_POSITION, position=place, minutes=minutes)
            )

    def estimate(self, place: int) -> float:
        return queue.estimate_wait(
            place,
            handling_s=self.handling,
            operators=list(self.operators.values()),
            capacity=self.params.capacity,
            default_handling_s=self.params.default_handling_s,
        )

    async def status_of(self, ticket: Ticket, now: datetime) -> HandoffStatus:
        if ticket.status is Status.ASSIGNED:
            return HandoffStatus(HandoffState.ASSIGNED, ticket_id=ticket.id)
        if not self.hours.is_open(now):
            return HandoffStatus(
                HandoffState.AFTER_HOURS, ticket_id=ticket.id, opens_at=self.hours.opens_at(now)
            )
        place = queue.position(await self._tickets.open_tickets(), ticket.id)
        return HandoffStatus(
            HandoffState.QUEUED,
            ticket_id=ticket.id,
            queue_position=place,
            wait_estimate_s=round(self.estimate(place), 1),
        )

    async def answered(
        self,
        ticket_id: int,
        operator_id: int,
        *,
        canned: str | None = None,
        article: str | None = None,
    ) -> None:
        """An operator's message reached the user: response times and the event."""
        now = self._clock()
        async with self._lock:
            before = await self.must_get(ticket_id)
            ticket, response = before.answered(now)
            await self._tickets.save(ticket)
        event = self._journal.event(
            EventKind.OPERATOR_REPLY,
            ticket,
            now,
            response_s=response,
            first=True if before.first_response_at is None else None,
            canned=canned,
            operator=self.operator_name(operator_id),
        )
        await self._journal.record([replace(event, operator_id=operator_id, article_id=article)])

    def operator_name(self, operator_id: int) -> str | None:
        """An operator's name, if they are known."""
        operator = self.operators.get(operator_id)
        return operator.name if operator is not None else None

    async def operator(self, operator_id: int, name: str) -> Operator:
        known = self.operators.get(operator_id)
        if known is not None and (known.name == name or not name):
            return known
        operator = replace(known, name=name) if known else Operator(operator_id, name)
        self.operators[operator_id] = operator
        await self._staff.save_operator(operator)
        return operator

    async def load_of(self, operator_id: int) -> int:
        return queue.loads(await self._tickets.open_tickets()).get(operator_id, 0)

    async def open_ticket(self, ticket_id: int) -> Ticket:
        ticket = await self.must_get(ticket_id)
        if not ticket.is_open:
            raise self._refuse("closed")
        return ticket

    async def must_get(self, ticket_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise self._refuse("not_found")
        return ticket

    def check_category(self, category: str | None, subcategory: str | None) -> None:
        taxonomy = self.params.categories
        if not taxonomy:
            return
        required = self.params.require_category
        if category is None:
            if required:
                raise self._refuse("category_required")
            return
        subs = taxonomy.get(category)
        if subs is None:
            raise self._refuse("unknown_category")
        if subcategory is None:
            if subs and required:
                raise self._refuse("category_required")
            return
        if subcategory not in subs:
            raise self._refuse("unknown_category")
