"""`DeskService`: the operator desk as a channel-free coordinator over small rooms and ports.

It implements `HandoffPort` for the engine and the operators' actions (take, reply, transfer,
close, ban). Transitions are `Ticket`'s methods, queue policy is `queue`, sends `Delivery`,
ratings `Feedback`, bans `Bans`, agent assist `Assist`; state changes run under one lock and
are stored before anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from supportbot.desk import queue
from supportbot.desk.assist import Assist
from supportbot.desk.bans import Bans
from supportbot.desk.delivery import Delivery
from supportbot.desk.errors import Refusals
from supportbot.desk.feedback import Feedback
from supportbot.desk.hours import WorkingHours
from supportbot.desk.journal import ArmsOf, Journal
from supportbot.desk.models import ClosedBy, Message, MessageLink, Notice, Relay, Ticket
from supportbot.desk.models import TicketStatus as Status
from supportbot.desk.params import DeskParams
from supportbot.desk.ports import (
    ArticleSource,
    CannedMatcher,
    StaffNotifier,
    StaffRepository,
    TicketRepository,
)
from supportbot.desk.queue import OperatorLoad, QueueInfo
from supportbot.desk.workflow import Changes, Workflow
from supportbot.domain.events import Event, EventKind
from supportbot.domain.handoff import (
    HandoffRequest,
    HandoffState,
    HandoffStatus,
    OpenTicket,
    UserMessage,
)
from supportbot.domain.models import Article, CannedReply
from supportbot.domain.ports import EventLog

logger = logging.getLogger(__name__)


class DeskService:
    """The operator desk. Call `start()` once before use (it loads bans and statistics)."""

    def __init__(
        self,
        *,
        tickets: TicketRepository,
        staff: StaffRepository,
        notifier: StaffNotifier,
        events: EventLog,
        knowledge: ArticleSource,
        canned: CannedMatcher,
        params: DeskParams | None = None,
        hours: WorkingHours | None = None,
        refusals: Mapping[str, str] | None = None,
        arms: ArmsOf | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        clock = clock or partial(datetime.now, UTC)
        self._tickets = tickets
        self._staff = staff
        self.params = params = params or DeskParams()
        self.hours = hours or WorkingHours()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._refuse = Refusals(refusals)
        self._journal = Journal(events, arms)
        self._send = Delivery(
            tickets=tickets,
            staff=staff,
            notifier=notifier,
            lock=self._lock,
            refuse=self._refuse,
            card_wait_s=params.card_wait_s,
        )
        self.bans = Bans(staff, self._lock)
        self.feedback = Feedback(
            tickets=tickets,
            delivery=self._send,
            journal=self._journal,
            refuse=self._refuse,
            lock=self._lock,
            clock=clock,
            comment_window=params.comment_window,
        )
        self.assist = Assist(
            knowledge=knowledge,
            canned=canned,
            tickets=tickets,
            notifier=notifier,
            delivery=self._send,
            lock=self._lock,
            canned_limit=params.canned_limit,
            show_operator_name=params.show_operator_name,
            anonymous_operator=params.anonymous_operator,
        )
        self._flow = Workflow(
            tickets=tickets,
            staff=staff,
            params=params,
            hours=self.hours,
            lock=self._lock,
            refuse=self._refuse,
            journal=self._journal,
            send=self._send,
            bans=self.bans,
            feedback=self.feedback,
            clock=clock,
        )

    async def start(self) -> None:
        """Load operators, bans and recent handling times from storage."""
        self._flow.operators = {op.id: op for op in await self._staff.operators()}
        await self.bans.load()
        recent = await self._tickets.recent_handling_s(self.params.handling_window)
        self._flow.handling.extend(reversed(recent))

    async def drain(self) -> None:
        """Wait for cards and staff-group notices still being sent (before a shutdown)."""
        await self._send.drain()

    # --- HandoffPort --------------------------------------------------------------------

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """Open (or reopen, or find) the user's ticket and queue or assign it."""
        if not self.params.enabled:
            return HandoffStatus(HandoffState.UNAVAILABLE)
        user_id = request.user.user_id
        if user_id in self.bans:
            if await self.bans.take_notice(user_id):
                await self._send.run([self._send.banned(user_id, request.user.lang)])
            return HandoffStatus(HandoffState.UNAVAILABLE)
        now = self._clock()
        changes = Changes()
        async with self._lock:
            latest = await self._tickets.latest_for_user(user_id)
            if latest is not None and latest.is_open:
                return HandoffStatus(HandoffState.ALREADY_OPEN, ticket_id=latest.id)
            fresh = latest is None or not self._flow.within_grace(latest, now)
            if latest is not None and not fresh:
                ticket = await self._flow.reopen(latest, now, changes, request)
            else:
                ticket = await self._tickets.create(
                    self._flow.draft(
                        request,
                        now,
                        latest,
                        self.assist.guess_category(request, self.params.categories),
                    )
                )
            if ticket.status is Status.QUEUED:
                told = await self._flow.status_of(ticket, now)
                ticket = ticket.told(told.queue_position, told.wait_estimate_s)
                await self._tickets.save(ticket)
            # The handoff reply tells the user their place: until it is sent, queue notices
            # of concurrent changes must not tell them first.
            self._flow.handing_off.add(ticket.id)
        try:
            if fresh:
                await self._send.wait_for_card(ticket)
            await self._send.run(changes.effects)
            return await self._placed(ticket.id, now, changes.events)
        finally:
            self._flow.handing_off.discard(ticket.id)

    def _category(self, request: HandoffRequest) -> str | None:
        return self.assist.guess_category(request, self.params.categories)

    async def _placed(self, ticket_id: int, now: datetime, events: list[Event]) -> HandoffStatus:
        """After a handoff: auto assignment, then where the ticket stands."""
        changes = Changes()
        changes.events += events
        async with self._lock:
            await self._flow.dispatch(now, changes, skip=ticket_id)
            ticket = await self._flow.must_get(ticket_id)
            status = await self._flow.status_of(ticket, now)
            if ticket.status is Status.QUEUED:
                ticket = ticket.told(status.queue_position, status.wait_estimate_s)
                await self._tickets.save(ticket)
                changes.events.append(
                    self._journal.event(
                        EventKind.QUEUED, ticket, now, position=status.queue_position
                    )
                )
        await self._flow.finish(changes)
        return status

    async def open_ticket(self, user_id: int) -> OpenTicket | None:
        """The user's open ticket, if any; `waiting` until an operator has it."""
        latest = await self._tickets.latest_for_user(user_id)
        if latest is None or not latest.is_open:
            return None
        return OpenTicket(latest.id, waiting=latest.status is Status.QUEUED)

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """The user withdrew: an article solved it while waiting (`solved`), or they gave up."""
        await self._flow.close_by_user(user_id, solved_by_bot=solved, ask_rating=False)

    # --- the user's side ------------------------------------------------------------------

    async def forward(
        self, ticket_id: int, message: UserMessage, suggestions: Sequence[str]
    ) -> bool:
        """A user's message(s) for the ticket: stored as due to the staff, then copied there
        with agent assist (the articles matching it, and canned replies fitting it).

        A message that races with closing reopens the ticket within the grace period, so
        nothing the user writes is lost. False when there is no ticket to take it.
        """
        now = self._clock()
        changes = Changes()
        async with self._lock:
            ticket = await self._tickets.get(ticket_id)
            if ticket is None:
                return False
            if not ticket.is_open:
                if not self._flow.within_grace(ticket, now):
                    logger.warning("ticket %d is closed: user message not forwarded", ticket_id)
                    return False
                ticket = await self._flow.reopen(ticket, now, changes, None)
            ticket = ticket.received(now, message.message_ids)
            await self._tickets.save(ticket)

        async def to_staff() -> None:
            await self._send.flush(ticket_id)
            await self.assist.post(ticket, suggestions, message.text)

        changes.effects.append(self._send.for_staff(to_staff))
        # The user's reply does not wait for the copy: it is stored as due, and a paced
        # staff group may take a while.
        await self._flow.finish(changes, wait=False)
        return True

    async def close_by_user(self, user_id: int, *, solved: bool | None = True) -> bool:
        """The user closes their ticket: "My problem is solved" (`solved`), or /close, where
        the desk asks whether it was (`solved=None`); then the rating. False if none open."""
        return await self._flow.close_by_user(
            user_id, solved_by_bot=False, ask_rating=True, solved=solved
        )

    # --- the operators' side --------------------------------------------------------------

    async def take(
        self, ticket_id: int, operator_id: int, operator_name: str, *, own_is_fine: bool = False
    ) -> Ticket:
        """An operator takes a queued ticket. Exactly one of two simultaneous takes wins.
        With `own_is_fine`, a ticket the operator already has is returned as it is (their
        reply right after their own Take).

        Raises:
            DeskRefusal: the ticket is gone, closed, already taken, or the operator is at
                their limit of concurrent tickets.
        """
        now = self._clock()
        changes = Changes()
        async with self._lock:
            operator = await self._flow.operator(operator_id, operator_name)
            ticket = await self._flow.open_ticket(ticket_id)
            if ticket.status is Status.ASSIGNED:
                if own_is_fine and ticket.operator_id == operator_id:
                    return ticket
                raise self._refuse(
                    "already_yours" if ticket.operator_id == operator_id else "taken"
                )
            if await self._flow.load_of(operator_id) >= self.params.capacity:
                raise self._refuse("at_capacity", capacity=self.params.capacity)
            taken = await self._flow.assign(ticket, operator, now, changes)
            if taken is None:
                raise self._refuse("taken")
            await self._flow.queue_notices(now, changes)
        await self._flow.finish(changes)
        return taken

    async def _taken(self, ticket: Ticket, operator_id: int, operator_name: str) -> Ticket:
        """The open ticket, taken by the operator first when it is queued (writing in a
        queued ticket, or sending it a reply, takes it)."""
        if ticket.status is Status.QUEUED:
            # Read before the lock: the operator may have taken it meanwhile.
            return await self.take(ticket.id, operator_id, operator_name, own_is_fine=True)
        return ticket

    async def relay_from_operator(
        self,
        *,
        operator_id: int,
        operator_name: str,
        message_ids: Sequence[int],
        topic_id: int | None,
        reply_to: int | None,
        internal: bool = False,
    ) -> Relay:
        """An operator's message in the staff group: to the user unless internal.

        The ticket is found by the topic (forum mode) or by the message replied to (the
        card or a relayed message, reply mode). Writing in a queued ticket takes it.
        """
        ticket = await self.ticket_at(topic_id=topic_id, reply_to=reply_to)
        if ticket is None:
            return Relay.NOT_A_TICKET
        if internal:
            return Relay.INTERNAL
        if not ticket.is_open:
            raise self._refuse("closed")
        ticket = await self._taken(ticket, operator_id, operator_name)
        if not await self._send.copy_from_operator(ticket, message_ids):
            return Relay.UNDELIVERED
        await self._flow.answered(ticket.id, operator_id)
        return Relay.RELAYED

    async def ticket_at(self, *, topic_id: int | None, reply_to: int | None) -> Ticket | None:
        """The ticket a staff-group message belongs to (by topic, or by the replied message)."""
        if topic_id is not None:
            ticket = await self._tickets.by_topic(topic_id)
            if ticket is not None:
                return ticket
        if reply_to is None:
            return None
        ticket = await self._tickets.by_card(reply_to)
        if ticket is not None:
            return ticket
        link = await self._staff.link_of_staff_message(reply_to)
        return await self._tickets.get(link.ticket_id) if link is not None else None

    async def get(self, ticket_id: int) -> Ticket | None:
        """One ticket."""
        return await self._tickets.get(ticket_id)

    async def edited_by_user(self, user_id: int, message_id: int) -> tuple[Ticket, int] | None:
        """Where the staff's copy of an edited user message is: (ticket, staff message id)."""
        link = await self._staff.link_of_user_message(user_id, message_id)
        return await self._copy_of(link, user=True)

    async def edited_by_operator(self, message_id: int) -> tuple[Ticket, int] | None:
        """Where the user's copy of an edited operator message is: (ticket, user message id)."""
        return await self._copy_of(await self._staff.link_of_staff_message(message_id), False)

    async def _copy_of(self, link: MessageLink | None, user: bool) -> tuple[Ticket, int] | None:
        if link is None or link.from_user is not user:
            return None
        ticket = await self._tickets.get(link.ticket_id)
        copy = link.staff_message_id if user else link.user_message_id
        return (ticket, copy) if ticket is not None else None

    async def transfer_targets(self, ticket_id: int, operator_id: int) -> list[OperatorLoad]:
        """Operators the ticket can go to (not its current one), online first, least loaded."""
        ticket = await self._flow.open_ticket(ticket_id)
        load = queue.loads(await self._tickets.open_tickets())
        return queue.transfer_targets(self._flow.operators.values(), load, ticket.operator_id)

    async def transfer(
        self, ticket_id: int, operator_id: int, operator_name: str, target_id: int | None
    ) -> Ticket:
        """Hand the ticket to another operator, or back to the queue (`target_id` None).

        A queued ticket given to someone is taken by them (the user is told, as on "Take").
        """
        now = self._clock()
        changes = Changes()
        async with self._lock:
            by = await self._flow.operator(operator_id, operator_name)
            ticket = await self._flow.open_ticket(ticket_id)
            if target_id is None:
                moved = await self._flow.requeue(ticket, by, now, changes)
            else:
                moved = await self._flow.hand_to(ticket, by, target_id, now, changes)
        await self._flow.finish(changes)
        return moved

    def categories(self) -> Mapping[str, tuple[str, ...]]:
        """The taxonomy operators pick from when closing."""
        return self.params.categories

    async def close(
        self,
        ticket_id: int,
        operator_id: int,
        operator_name: str,
        *,
        category: str | None = None,
        subcategory: str | None = None,
    ) -> Ticket:
        """The operator closes the ticket with a category; the user is asked FCR and CSAT.

        Raises:
            DeskRefusal: closed already, or the category is missing (when required) or
                not in the taxonomy.
        """
        self._flow.check_category(category, subcategory)
        now = self._clock()
        changes = Changes()
        async with self._lock:
            await self._flow.operator(operator_id, operator_name)
            ticket = await self._flow.open_ticket(ticket_id)
            closed = await self._flow.close(
                ticket, now, ClosedBy.OPERATOR, changes, category, subcategory
            )
            changes.effects.append(
                self._send.to_user(closed, Notice.CLOSED_ASK_FCR, ticket_id=closed.id)
            )
            changes.events.append(self._journal.event(EventKind.RATING_REQUESTED, closed, now))
            await self._flow.dispatch(now, changes)
        await self._flow.finish(changes)
        return closed

    async def set_online(self, operator_id: int, operator_name: str, online: bool) -> None:
        """/online and /offline: whether auto assignment may give the operator tickets."""
        now = self._clock()
        changes = Changes()
        async with self._lock:
            operator = await self._flow.operator(operator_id, operator_name)
            operator = replace(operator, online=online)
            self._flow.operators[operator_id] = operator
            await self._staff.save_operator(operator)
            await self._flow.dispatch(now, changes)
        await self._flow.finish(changes)

    async def ban(self, user_id: int, by: int) -> None:
        """Ban a user: their open ticket is closed, nothing of theirs reaches the staff."""
        now = self._clock()
        changes = Changes()
        async with self._lock:
            await self.bans.add(user_id, now, by)
            latest = await self._tickets.latest_for_user(user_id)
            if latest is not None and latest.is_open:
                await self._flow.close(latest, now, ClosedBy.OPERATOR, changes)
                changes.effects.append(
                    self._send.to_staff(latest.id, Message(Notice.STAFF_BANNED))
                )
                await self._flow.dispatch(now, changes)
        await self._flow.finish(changes)

    async def queue_info(self) -> QueueInfo:
        """Queue length, the oldest wait, and every operator's load."""
        now = self._clock()
        return queue.queue_info(
            await self._tickets.open_tickets(),
            self._flow.operators.values(),
            now,
            is_open=self.hours.is_open(now),
            opens_at=self.hours.opens_at(now),
        )

    async def send_canned(
        self, ticket_id: int, operator_id: int, operator_name: str, key: str
    ) -> CannedReply:
        """Send a canned reply (by `short_key` of its id) with the placeholders filled."""
        reply = self.assist.canned(key)
        if reply is None:
            raise self._refuse("unknown_item")
        ticket = await self._taken(
            await self._flow.open_ticket(ticket_id), operator_id, operator_name
        )
        text = self.assist.fill(reply, ticket, operator_name)
        await self._send.text(ticket_id, text)
        await self._flow.answered(ticket_id, operator_id, canned=reply.id)
        return reply

    async def send_article(
        self, ticket_id: int, operator_id: int, operator_name: str, key: str
    ) -> Article:
        """Send one of the ticket's suggested articles (by `short_key` of its id)."""
        ticket = await self._flow.open_ticket(ticket_id)
        article = self.assist.article(ticket, key)
        if article is None:
            raise self._refuse("unknown_item")
        await self._taken(ticket, operator_id, operator_name)
        await self._send.article(ticket_id, article)
        await self._flow.answered(ticket_id, operator_id, article=article.id)
        return article

    async def tick(self) -> None:
        """Periodic work: post cards and messages that could not reach the staff group,
        assign queued tickets once working hours begin, refresh queue notices."""
        now = self._clock()
        for ticket in await self._tickets.open_tickets():
            try:
                if (
                    ticket.card_message_id is None
                    and await self._send.ensure_card(ticket.id) is None
                ):
                    break  # the staff group is still unreachable
                if ticket.pending_copies:
                    await self._send.flush(ticket.id)
            except Exception:  # one ticket's trouble must not stop the others' retries
                logger.exception("ticket %d: periodic retry failed", ticket.id)
        changes = Changes()
        async with self._lock:
            await self._flow.dispatch(now, changes)
        await self._flow.finish(changes)
