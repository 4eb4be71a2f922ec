"""`DeskService`: the operator desk as a channel-free state machine over small ports.

It implements `HandoffPort` for the conversation engine and offers the operators' actions
(take, reply, transfer, close, canned replies, ban) to the staff adapter. State changes run
under one lock and are stored before anything is sent; what has to be sent (notices, card
updates) is collected as effects and sent after the lock is released, so a slow or
rate-limited staff group never holds up other tickets.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from supportbot.desk.hours import WorkingHours
from supportbot.desk.models import (
    Ban,
    ClosedBy,
    Message,
    MessageLink,
    NewTicket,
    Notice,
    Operator,
    Ticket,
    TicketStatus,
    short_key,
)
from supportbot.desk.ports import (
    ArticleSource,
    CannedMatcher,
    StaffNotifier,
    StaffRepository,
    StaffUnavailableError,
    TicketRepository,
    TopicLostError,
)
from supportbot.domain.errors import SupportBotError
from supportbot.domain.events import Event, EventKind
from supportbot.domain.handoff import HandoffRequest, HandoffState, HandoffStatus
from supportbot.domain.models import Article, CannedReply, Lang
from supportbot.domain.ports import EventLog

logger = logging.getLogger(__name__)

T = TypeVar("T")
Effect = Callable[[], Awaitable[None]]
ArmsOf = Callable[[int], Mapping[str, str]]

# Why an operator's action was refused; the adapter passes the texts (staff language).
REFUSALS = (
    "not_found",
    "closed",
    "already_yours",
    "taken",
    "at_capacity",
    "target_at_capacity",
    "not_assigned",
    "category_required",
    "unknown_category",
    "unknown_item",
    "changed",
)


class DeskRefusal(SupportBotError):
    """An operator's action the desk refuses; `user_message` is the notice for them."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(user_message)
        self.code = code


class Relay(enum.StrEnum):
    """What became of an operator's message in the staff group."""

    NOT_A_TICKET = "not_a_ticket"  # general chat of the staff group
    INTERNAL = "internal"  # `//` or /note: stays with the staff
    RELAYED = "relayed"
    UNDELIVERED = "undelivered"  # the user blocked the bot


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _ForStaff:
    """An effect for the staff group: it may wait for a paced group, so `_run` does not."""

    send: Effect

    async def __call__(self) -> None:
        await self.send()


def _for_staff(effect: Effect) -> Effect:
    return _ForStaff(effect)


async def _attempt(effect: Effect) -> None:
    try:
        await effect()
    except StaffUnavailableError as error:
        logger.warning("staff group unreachable: %s", error)
    except Exception:
        logger.exception("desk effect failed")


def fill_placeholders(text: str, *, name: str, operator: str) -> str:
    """A canned reply with {name} and {operator} filled in (other braces stay as written)."""
    return text.replace("{name}", name).replace("{operator}", operator)


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
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._tickets = tickets
        self._staff = staff
        self._notifier = notifier
        self._events = events
        self._knowledge = knowledge
        self._canned = canned
        self.params = params or DeskParams()
        self.hours = hours or WorkingHours()
        self._refusals = dict(refusals or {})
        self._arms = arms
        self._clock = clock
        self._lock = asyncio.Lock()
        self._operators: dict[int, Operator] = {}
        self._banned: dict[int, Ban] = {}
        self._handling: deque[float] = deque(maxlen=self.params.handling_window)
        self._pending_assist: dict[int, tuple[str, ...]] = {}
        self._awaiting_comment: dict[int, tuple[int, datetime]] = {}
        # Cards being posted, by ticket: a paced staff group may take a minute to take one,
        # and nobody must post a second card meanwhile.
        self._card_tasks: dict[int, asyncio.Task[Ticket | None]] = {}
        # Staff-group effects run in order, each batch after the one before.
        self._staff_chain: asyncio.Task[None] | None = None
        self._staff_tasks: set[asyncio.Task[None]] = set()
        self._handing_off: set[int] = set()  # tickets whose handoff reply is not sent yet

    async def start(self) -> None:
        """Load operators, bans and recent handling times from storage."""
        self._operators = {op.id: op for op in await self._staff.operators()}
        self._banned = {ban.user_id: ban for ban in await self._staff.bans()}
        recent = await self._tickets.recent_handling_s(self.params.handling_window)
        self._handling.extend(reversed(recent))

    # --- HandoffPort --------------------------------------------------------------------

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """Open (or reopen, or find) the user's ticket and queue or assign it."""
        if not self.params.enabled:
            return HandoffStatus(HandoffState.UNAVAILABLE)
        user_id = request.user.user_id
        if user_id in self._banned:
            await self._notify_banned(user_id, request.user.lang)
            return HandoffStatus(HandoffState.UNAVAILABLE)
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            latest = await self._tickets.latest_for_user(user_id)
            if latest is not None and latest.is_open:
                return HandoffStatus(HandoffState.ALREADY_OPEN, ticket_id=latest.id)
            if latest is not None and self._within_grace(latest, now):
                ticket = await self._reopen(latest, now, effects, events, request)
                fresh = False
            else:
                ticket = await self._tickets.create(
                    NewTicket(
                        user_id=user_id,
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
                        suggested_category=self._guess_category(request),
                        previous_id=latest.id if latest is not None else None,
                        assist_articles=request.suggested_articles,
                    )
                )
                fresh = True
            if ticket.status is TicketStatus.QUEUED:
                told = await self._status_of(ticket, now)
                ticket = replace(
                    ticket,
                    notified_position=told.queue_position,
                    notified_wait_s=told.wait_estimate_s,
                )
                await self._tickets.save(ticket)
            # The handoff reply tells the user their place: until it is sent, queue notices
            # of concurrent changes must not tell them first.
            self._handing_off.add(ticket.id)
        try:
            return await self._finish_hand_off(ticket, fresh, now, effects, events)
        finally:
            self._handing_off.discard(ticket.id)

    async def _finish_hand_off(
        self,
        ticket: Ticket,
        fresh: bool,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
    ) -> HandoffStatus:
        if fresh:
            # The user's reply does not wait long for a paced staff group: the card goes on
            # being posted, and whoever needs it next waits for that same posting.
            card = self._card_task(ticket)
            with suppress(Exception):  # a failure is logged where the card is posted
                await asyncio.wait_for(asyncio.shield(card), self.params.card_wait_s)
        await self._run(effects)
        effects = []
        async with self._lock:
            await self._dispatch(now, effects, events, skip=ticket.id)
            ticket = await self._must_get(ticket.id)
            status = await self._status_of(ticket, now)
            if ticket.status is TicketStatus.QUEUED:
                ticket = replace(
                    ticket,
                    notified_position=status.queue_position,
                    notified_wait_s=status.wait_estimate_s,
                )
                await self._tickets.save(ticket)
                events.append(
                    self._event(EventKind.QUEUED, ticket, now, position=status.queue_position)
                )
        await self._record(events)
        await self._run(effects)
        return status

    async def open_ticket_id(self, user_id: int) -> int | None:
        """The user's open ticket, if any."""
        latest = await self._tickets.latest_for_user(user_id)
        return latest.id if latest is not None and latest.is_open else None

    async def is_waiting(self, user_id: int) -> bool:
        """True while the user's ticket waits for an operator (the engine may suggest)."""
        latest = await self._tickets.latest_for_user(user_id)
        return latest is not None and latest.status is TicketStatus.QUEUED

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """The user withdrew: an article solved it while waiting (`solved`), or they gave up."""
        await self._close_by_user(user_id, solved_by_bot=solved, ask_rating=False)

    async def note_suggestions(self, user_id: int, article_ids: Sequence[str]) -> None:
        """Articles matching the user's latest message: posted with it as agent assist."""
        self._pending_assist[user_id] = tuple(article_ids)

    # --- the user's side ------------------------------------------------------------------

    async def relay_from_user(
        self, ticket_id: int, message_ids: Sequence[int], text: str | None
    ) -> bool:
        """A user's message(s) for the ticket: copied to the staff, then agent assist.

        A message that races with closing reopens the ticket within the grace period, so
        nothing the user writes is lost. False when there is no ticket to take it.
        """
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            ticket = await self._tickets.get(ticket_id)
            if ticket is None:
                return False
            if not ticket.is_open:
                if not self._within_grace(ticket, now):
                    logger.warning("ticket %d is closed: user message not relayed", ticket_id)
                    return False
                ticket = await self._reopen(ticket, now, effects, events, None)
            if ticket.awaiting_since is None:
                ticket = replace(ticket, awaiting_since=now)
                await self._tickets.save(ticket)
        await self._record(events)
        await self._run(effects)
        if ticket.pending_copies:
            await self._flush_pending(ticket_id)
        await self._copy_user_messages(ticket_id, message_ids)
        await self._assist(ticket_id, text)
        return True

    async def close_by_user(self, user_id: int, *, solved: bool | None = True) -> bool:
        """The user closes their ticket: "My problem is solved" (`solved`), or /close, where
        the desk asks whether it was (`solved=None`); then the rating. False if none open."""
        return await self._close_by_user(
            user_id, solved_by_bot=False, ask_rating=True, solved=solved
        )

    async def answer_fcr(self, ticket_id: int, user_id: int, solved: bool) -> None:
        """The user's answer to "Was your problem solved?"; then the rating is asked."""
        now = self._clock()
        async with self._lock:
            ticket = await self._closed_ticket_of(ticket_id, user_id)
            if ticket.solved is not None:
                raise self._refuse("changed")  # answered already (a second tap)
            ticket = replace(ticket, solved=solved)
            await self._tickets.save(ticket)
        await self._record(
            [self._event(EventKind.FCR, ticket, now, solved=solved, reopened=ticket.reopened)]
        )
        await self._run([self._user_effect(ticket, Notice.ASK_RATING, ticket_id=ticket.id)])

    async def rate(self, ticket_id: int, user_id: int, score: int) -> None:
        """A 1-5 rating; the user may add a comment in their next message."""
        if not 1 <= score <= 5:
            raise self._refuse("unknown_item")  # a forged button
        now = self._clock()
        async with self._lock:
            ticket = await self._closed_ticket_of(ticket_id, user_id)
            if ticket.rating is not None:
                raise self._refuse("changed")  # rated already (a second tap)
            ticket = replace(ticket, rating=score)
            await self._tickets.save(ticket)
            self._awaiting_comment[user_id] = (ticket_id, now + self.params.comment_window)
        await self._record([self._event(EventKind.RATING, ticket, now, score=score)])
        await self._run(
            [
                self._user_effect(ticket, Notice.ASK_COMMENT),
                self._staff_effect(
                    ticket.id, Message(Notice.STAFF_RATED, {"score": score, "comment": ""})
                ),
            ]
        )

    def awaits_comment(self, user_id: int) -> bool:
        """True when the user's next text is the comment to their rating."""
        pending = self._awaiting_comment.get(user_id)
        if pending is None:
            return False
        if pending[1] < self._clock():
            del self._awaiting_comment[user_id]
            return False
        return True

    async def add_comment(self, user_id: int, text: str) -> bool:
        """Store the comment to the user's rating; False when none was asked for."""
        if not self.awaits_comment(user_id):
            return False
        ticket_id, _ = self._awaiting_comment.pop(user_id)
        now = self._clock()
        async with self._lock:
            ticket = await self._closed_ticket_of(ticket_id, user_id)
            ticket = replace(ticket, comment=text)
            await self._tickets.save(ticket)
        await self._record(
            [self._event(EventKind.RATING, ticket, now, score=ticket.rating, comment=text)]
        )
        await self._run(
            [
                self._user_effect(ticket, Notice.THANKS),
                self._staff_effect(
                    ticket.id,
                    Message(Notice.STAFF_RATED, {"score": ticket.rating, "comment": text}),
                ),
            ]
        )
        return True

    def is_banned(self, user_id: int) -> bool:
        """True for a banned user: nothing of theirs reaches the staff group."""
        return user_id in self._banned

    async def take_ban_notice(self, user_id: int) -> bool:
        """True once per ban: the banned user is due their one polite notice."""
        async with self._lock:
            ban = self._banned.get(user_id)
            if ban is None or ban.notified:
                return False
            ban = replace(ban, notified=True)
            self._banned[user_id] = ban
            await self._staff.save_ban(ban)
            return True

    # --- the operators' side --------------------------------------------------------------

    async def take(self, ticket_id: int, operator_id: int, operator_name: str) -> Ticket:
        """An operator takes a queued ticket. Exactly one of two simultaneous takes wins.

        Raises:
            DeskRefusal: the ticket is gone, closed, already taken, or the operator is at
                their limit of concurrent tickets.
        """
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            operator = await self._operator(operator_id, operator_name)
            ticket = await self._open_ticket(ticket_id)
            if ticket.status is TicketStatus.ASSIGNED:
                code = "already_yours" if ticket.operator_id == operator_id else "taken"
                raise self._refuse(code)
            load = await self._load_of(operator_id)
            if load >= self.params.capacity:
                raise self._refuse("at_capacity", capacity=self.params.capacity)
            taken = await self._assign(ticket, operator, now, effects, events)
            if taken is None:
                raise self._refuse("taken")
            await self._queue_notices(now, effects)
        await self._record(events)
        await self._run(effects)
        return taken

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
        if ticket.status is TicketStatus.QUEUED:
            ticket = await self.take(ticket.id, operator_id, operator_name)
        copies = await self._with_place(
            ticket.id, lambda t: self._notifier.copy_to_user(t, message_ids)
        )
        if not copies:
            return Relay.UNDELIVERED
        for source, copy in zip(message_ids, copies, strict=False):
            await self._staff.add_link(
                MessageLink(ticket.id, ticket.user_id, copy, source, from_user=False)
            )
        await self._answered(ticket.id, operator_id)
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
        if link is None or not link.from_user:
            return None
        ticket = await self._tickets.get(link.ticket_id)
        return (ticket, link.staff_message_id) if ticket is not None else None

    async def edited_by_operator(self, message_id: int) -> tuple[Ticket, int] | None:
        """Where the user's copy of an edited operator message is: (ticket, user message id)."""
        link = await self._staff.link_of_staff_message(message_id)
        if link is None or link.from_user:
            return None
        ticket = await self._tickets.get(link.ticket_id)
        return (ticket, link.user_message_id) if ticket is not None else None

    async def transfer_targets(self, ticket_id: int, operator_id: int) -> list[OperatorLoad]:
        """Operators the ticket can go to (not its current one), online first, least loaded."""
        ticket = await self._open_ticket(ticket_id)
        loads = await self._loads()
        targets = [
            OperatorLoad(op, loads.get(op.id, 0))
            for op in self._operators.values()
            if op.id != ticket.operator_id
        ]
        return sorted(targets, key=lambda t: (not t.operator.online, t.load, t.operator.name))

    async def transfer(
        self, ticket_id: int, operator_id: int, operator_name: str, target_id: int | None
    ) -> Ticket:
        """Hand the ticket to another operator, or back to the queue (`target_id` None).

        A queued ticket given to someone is taken by them (the user is told, as on "Take").
        """
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            by = await self._operator(operator_id, operator_name)
            ticket = await self._open_ticket(ticket_id)
            if target_id is None:
                moved = await self._return_to_queue(ticket, by, now, effects, events)
            else:
                moved = await self._hand_to(ticket, by, target_id, now, effects, events)
        await self._record(events)
        await self._run(effects)
        return moved

    async def _return_to_queue(
        self,
        ticket: Ticket,
        by: Operator,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
    ) -> Ticket:
        if ticket.status is TicketStatus.QUEUED:
            raise self._refuse("not_assigned")
        # Its wait starts again: the wait of the next take must not include this handling.
        moved = replace(
            ticket,
            status=TicketStatus.QUEUED,
            operator_id=None,
            queued_at=now,
            notified_position=None,
            notified_wait_s=None,
        )
        if not await self._tickets.save(moved, expect=ticket.status):
            raise self._refuse("changed")
        events.append(self._event(EventKind.QUEUED, moved, now, returned=True))
        effects += [
            self._staff_effect(ticket.id, Message(Notice.STAFF_RETURNED, {"by": by.name})),
            self._card_effect(ticket.id),
        ]
        await self._queue_notices(now, effects)
        return moved

    async def _hand_to(
        self,
        ticket: Ticket,
        by: Operator,
        target_id: int,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
    ) -> Ticket:
        target = self._operators.get(target_id)
        if target is None:
            raise self._refuse("unknown_item")
        if target_id == ticket.operator_id:
            raise self._refuse("already_yours" if target_id == by.id else "taken")
        if await self._load_of(target_id) >= self.params.capacity:
            raise self._refuse("target_at_capacity", capacity=self.params.capacity)
        notice = Message(Notice.STAFF_TRANSFERRED, {"to": target.name, "by": by.name})
        if ticket.status is TicketStatus.QUEUED:
            assigned = await self._assign(ticket, target, now, effects, events)
            if assigned is None:
                raise self._refuse("changed")
            effects.append(self._staff_effect(ticket.id, notice))
            await self._queue_notices(now, effects)
            return assigned
        moved = replace(
            ticket,
            status=TicketStatus.ASSIGNED,
            operator_id=target_id,
            assigned_at=ticket.assigned_at or now,
        )
        if not await self._tickets.save(moved, expect=ticket.status):
            raise self._refuse("changed")
        events.append(
            self._event(EventKind.TAKEN, moved, now, transfer=True, operator=target.name)
        )
        effects += [self._staff_effect(ticket.id, notice), self._card_effect(ticket.id)]
        return moved

    def operator_name(self, operator_id: int) -> str | None:
        """An operator's name, if they are known."""
        operator = self._operators.get(operator_id)
        return operator.name if operator is not None else None

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
        self._check_category(category, subcategory)
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            await self._operator(operator_id, operator_name)
            ticket = await self._open_ticket(ticket_id)
            closed = await self._do_close(
                ticket, now, ClosedBy.OPERATOR, category, subcategory, effects, events
            )
            effects.append(self._user_effect(closed, Notice.CLOSED_ASK_FCR, ticket_id=closed.id))
            events.append(self._event(EventKind.RATING_REQUESTED, closed, now))
            await self._dispatch(now, effects, events)
        await self._record(events)
        await self._run(effects)
        return closed

    async def set_online(self, operator_id: int, operator_name: str, online: bool) -> None:
        """/online and /offline: whether auto assignment may give the operator tickets."""
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            operator = await self._operator(operator_id, operator_name)
            operator = replace(operator, online=online)
            self._operators[operator_id] = operator
            await self._staff.save_operator(operator)
            await self._dispatch(now, effects, events)
        await self._record(events)
        await self._run(effects)

    async def ban(self, user_id: int, by: int) -> None:
        """Ban a user: their open ticket is closed, nothing of theirs reaches the staff."""
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            ban = Ban(user_id, now, by)
            self._banned[user_id] = ban
            await self._staff.save_ban(ban)
            latest = await self._tickets.latest_for_user(user_id)
            if latest is not None and latest.is_open:
                await self._do_close(latest, now, ClosedBy.OPERATOR, None, None, effects, events)
                effects.append(self._staff_effect(latest.id, Message(Notice.STAFF_BANNED)))
                await self._dispatch(now, effects, events)
        await self._record(events)
        await self._run(effects)

    async def unban(self, user_id: int) -> bool:
        """Lift a ban; False when the user was not banned."""
        async with self._lock:
            if self._banned.pop(user_id, None) is None:
                return False
            await self._staff.remove_ban(user_id)
            return True

    async def queue_info(self) -> QueueInfo:
        """Queue length, the oldest wait, and every operator's load."""
        now = self._clock()
        tickets = await self._tickets.open_tickets()
        queued = [t for t in tickets if t.status is TicketStatus.QUEUED]
        loads = await self._loads()
        oldest = min((t.queued_at for t in queued), default=None)
        return QueueInfo(
            length=len(queued),
            oldest_wait_s=(now - oldest).total_seconds() if oldest is not None else None,
            assigned=len(tickets) - len(queued),
            operators=tuple(
                OperatorLoad(op, loads.get(op.id, 0))
                for op in sorted(self._operators.values(), key=lambda o: o.name)
            ),
            is_open=self.hours.is_open(now),
            opens_at=self.hours.opens_at(now),
        )

    def _canned_for(self, message: str, lang: Lang) -> list[CannedReply]:
        """Canned replies for a user's message (agent assist), in the ticket's language."""
        own = [r for r in self._knowledge.canned_replies() if r.lang is lang]
        return self._canned.for_message(message, own, limit=3)

    def search_canned(self, words: str, lang: Lang | None = None) -> list[CannedReply]:
        """`/t <words>`: the best matching canned replies, the ticket's language first."""
        replies = list(self._knowledge.canned_replies())
        limit = self.params.canned_limit
        if lang is not None:
            own = [r for r in replies if r.lang is lang]
            found = self._canned.search(words, own, limit=limit)
            if found:
                return found
        return self._canned.search(words, replies, limit=limit)

    async def send_canned(
        self, ticket_id: int, operator_id: int, operator_name: str, key: str
    ) -> CannedReply:
        """Send a canned reply (by `short_key` of its id) with the placeholders filled."""
        reply = next((r for r in self._knowledge.canned_replies() if short_key(r.id) == key), None)
        if reply is None:
            raise self._refuse("unknown_item")
        ticket = await self._open_ticket(ticket_id)
        if ticket.status is TicketStatus.QUEUED:
            ticket = await self.take(ticket_id, operator_id, operator_name)
        shown = operator_name if self.params.show_operator_name else ""
        anonymous = self.params.anonymous_operator.get(ticket.lang.value, "")
        text = fill_placeholders(reply.text, name=ticket.user_name, operator=shown or anonymous)
        await self._with_place(ticket_id, lambda t: self._notifier.send_to_user(t, text))
        await self._answered(ticket_id, operator_id, canned=reply.id)
        return reply

    async def send_article(
        self, ticket_id: int, operator_id: int, operator_name: str, key: str
    ) -> Article:
        """Send one of the ticket's suggested articles (by `short_key` of its id)."""
        ticket = await self._open_ticket(ticket_id)
        article_id = next((a for a in ticket.assist_articles if short_key(a) == key), None)
        article = self._knowledge.article(article_id) if article_id is not None else None
        if article is None:
            raise self._refuse("unknown_item")
        if ticket.status is TicketStatus.QUEUED:
            ticket = await self.take(ticket_id, operator_id, operator_name)
        await self._with_place(ticket_id, lambda t: self._notifier.send_article(t, article))
        await self._answered(ticket_id, operator_id, article=article.id)
        return article

    async def tick(self) -> None:
        """Periodic work: post cards and messages that could not reach the staff group,
        assign queued tickets once working hours begin, refresh queue notices."""
        now = self._clock()
        for ticket in await self._tickets.open_tickets():
            try:
                if ticket.card_message_id is None and await self._ensure_card(ticket.id) is None:
                    break  # the staff group is still unreachable
                if ticket.pending_copies:
                    await self._flush_pending(ticket.id)
            except Exception:  # one ticket's trouble must not stop the others' retries
                logger.exception("ticket %d: periodic retry failed", ticket.id)
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            await self._dispatch(now, effects, events)
        await self._record(events)
        await self._run(effects)

    # --- internals: state ---------------------------------------------------------------

    def _within_grace(self, ticket: Ticket, now: datetime) -> bool:
        return (
            ticket.closed_at is not None
            and ticket.closed_by is not ClosedBy.BOT
            and now - ticket.closed_at <= self.params.reopen_grace
            and ticket.user_id not in self._banned
        )

    async def _reopen(
        self,
        ticket: Ticket,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
        request: HandoffRequest | None,
    ) -> Ticket:
        """Reopen a recently closed ticket; its operator gets it back if they have room."""
        reopened = replace(
            ticket,
            status=TicketStatus.QUEUED,
            queued_at=now,
            closed_at=None,
            closed_by=None,
            solved=None,
            rating=None,
            comment=None,
            reopened=ticket.reopened + 1,
            transcript=(*ticket.transcript, *request.transcript)[-50:]
            if request is not None
            else ticket.transcript,
            # Its events from here on belong to the conversation that brought it back.
            conversation_id=request.conversation_id
            if request is not None
            else ticket.conversation_id,
        )
        previous = ticket.operator_id
        reopened = replace(reopened, operator_id=None)
        if not await self._tickets.save(reopened, expect=TicketStatus.CLOSED):
            raise self._refuse("changed")
        self._awaiting_comment.pop(ticket.user_id, None)
        effects += [
            self._topic_effect(ticket.id, True),
            self._staff_effect(ticket.id, Message(Notice.STAFF_REOPENED)),
        ]
        operator = self._operators.get(previous) if previous is not None else None
        if (
            operator is not None
            and self.hours.is_open(now)
            and await self._load_of(operator.id) < self.params.capacity
        ):
            assigned = await self._assign(reopened, operator, now, effects, events)
            if assigned is not None:
                return assigned
        effects.append(self._card_effect(ticket.id))
        return reopened

    async def _assign(
        self,
        ticket: Ticket,
        operator: Operator,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
        *,
        tell: bool = True,
    ) -> Ticket | None:
        taken = replace(
            ticket,
            status=TicketStatus.ASSIGNED,
            operator_id=operator.id,
            assigned_at=ticket.assigned_at or now,
            notified_position=None,
            notified_wait_s=None,
        )
        if not await self._tickets.save(taken, expect=TicketStatus.QUEUED):
            return None
        operator = replace(operator, last_assigned_at=now)
        self._operators[operator.id] = operator
        await self._staff.save_operator(operator)
        events.append(
            self._event(
                EventKind.TAKEN,
                taken,
                now,
                wait_s=round((now - ticket.queued_at).total_seconds(), 3),
                operator=operator.name,
            )
        )
        shown = operator.name if self.params.show_operator_name else ""
        if tell:
            effects.append(
                self._user_effect(taken, Notice.ASSIGNED, operator=shown, ticket_id=taken.id)
            )
        effects += [
            self._staff_effect(taken.id, Message(Notice.STAFF_TAKEN, {"operator": operator.name})),
            self._card_effect(taken.id),
        ]
        return taken

    async def _do_close(
        self,
        ticket: Ticket,
        now: datetime,
        by: ClosedBy,
        category: str | None,
        subcategory: str | None,
        effects: list[Effect],
        events: list[Event],
        *,
        solved_by_bot: bool = False,
    ) -> Ticket:
        closed = replace(
            ticket,
            status=TicketStatus.CLOSED,
            closed_at=now,
            closed_by=by,
            category=category,
            subcategory=subcategory,
            awaiting_since=None,
            notified_position=None,
            notified_wait_s=None,
        )
        if not await self._tickets.save(closed, expect=ticket.status):
            raise self._refuse("changed")
        if closed.handling_s is not None:
            self._handling.append(closed.handling_s)
        events.append(
            self._event(
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
        effects += [
            self._staff_effect(
                ticket.id,
                Message(notice, {"category": category or "", "subcategory": subcategory or ""}),
            ),
            self._card_effect(ticket.id),
            self._topic_effect(ticket.id, False),
        ]
        return closed

    async def _close_by_user(
        self,
        user_id: int,
        *,
        solved_by_bot: bool,
        ask_rating: bool,
        solved: bool | None = True,
    ) -> bool:
        now = self._clock()
        effects: list[Effect] = []
        events: list[Event] = []
        async with self._lock:
            latest = await self._tickets.latest_for_user(user_id)
            if latest is None or not latest.is_open:
                return False
            was_assigned = latest.status is TicketStatus.ASSIGNED
            closed = await self._do_close(
                latest,
                now,
                ClosedBy.USER,
                latest.suggested_category,
                None,
                effects,
                events,
                solved_by_bot=solved_by_bot,
            )
            if ask_rating and was_assigned and solved is None:
                events.append(self._event(EventKind.RATING_REQUESTED, closed, now))
                effects.append(
                    self._user_effect(closed, Notice.CLOSED_ASK_FCR, ticket_id=closed.id)
                )
            elif ask_rating and was_assigned:
                closed = replace(closed, solved=solved)
                await self._tickets.save(closed)
                events += [
                    self._event(
                        EventKind.FCR, closed, now, solved=solved, reopened=closed.reopened
                    ),
                    self._event(EventKind.RATING_REQUESTED, closed, now),
                ]
                effects.append(self._user_effect(closed, Notice.ASK_RATING, ticket_id=closed.id))
            await self._dispatch(now, effects, events)
        await self._record(events)
        await self._run(effects)
        return True

    async def _dispatch(
        self,
        now: datetime,
        effects: list[Effect],
        events: list[Event],
        *,
        skip: int | None = None,
    ) -> None:
        """Auto assignment (least loaded online operator, oldest ticket first) + notices."""
        if self.params.auto_assign and self.hours.is_open(now):
            loads = await self._loads()
            for ticket in await self._tickets.open_tickets():
                if ticket.status is not TicketStatus.QUEUED:
                    continue
                free = [
                    op
                    for op in self._operators.values()
                    if op.online and loads.get(op.id, 0) < self.params.capacity
                ]
                if not free:
                    break
                epoch = datetime.min.replace(tzinfo=UTC)
                chosen = min(
                    free,
                    key=lambda op: (loads.get(op.id, 0), op.last_assigned_at or epoch, op.id),
                )
                # The handoff reply itself tells the user being handed off.
                tell = ticket.id != skip
                assigned = await self._assign(ticket, chosen, now, effects, events, tell=tell)
                if assigned is not None:
                    loads[chosen.id] = loads.get(chosen.id, 0) + 1
        await self._queue_notices(now, effects, skip=skip)

    async def _queue_notices(
        self, now: datetime, effects: list[Effect], *, skip: int | None = None
    ) -> None:
        """Tell queued users their new place when it changed noticeably (but not `skip`,
        who is being told by the handoff reply itself)."""
        if not self.hours.is_open(now):
            return
        queued = [t for t in await self._tickets.open_tickets() if t.status is TicketStatus.QUEUED]
        for position, ticket in enumerate(queued, 1):
            wait = self._estimate(position)
            if ticket.id == skip or ticket.id in self._handing_off:
                continue
            if not self._noticeable(ticket, position, wait):
                continue
            updated = replace(ticket, notified_position=position, notified_wait_s=wait)
            await self._tickets.save(updated)
            effects.append(
                self._user_effect(
                    updated,
                    Notice.QUEUE_POSITION,
                    position=position,
                    minutes=max(1, math.ceil(wait / 60)),
                )
            )

    def _noticeable(self, ticket: Ticket, position: int, wait: float) -> bool:
        if ticket.notified_position is None:
            return True  # after hours nobody was told a place yet
        if position == ticket.notified_position:
            return False
        if position == 1:
            return True
        before = ticket.notified_wait_s or 0.0
        change = abs(before - wait)
        return change >= max(
            self.params.notice_min_change_s, self.params.notice_min_change_ratio * before
        )

    def _estimate(self, position: int) -> float:
        """Seconds until a free operator, from the recent median handling time."""
        median = statistics.median(self._handling) if self._handling else None
        per_ticket = median or self.params.default_handling_s
        online = [op for op in self._operators.values() if op.online]
        servers = len(online) or len(self._operators) or 1
        return position * per_ticket / (servers * self.params.capacity)

    async def _status_of(self, ticket: Ticket, now: datetime) -> HandoffStatus:
        if ticket.status is TicketStatus.ASSIGNED:
            return HandoffStatus(HandoffState.ASSIGNED, ticket_id=ticket.id)
        if not self.hours.is_open(now):
            return HandoffStatus(
                HandoffState.AFTER_HOURS, ticket_id=ticket.id, opens_at=self.hours.opens_at(now)
            )
        open_tickets = await self._tickets.open_tickets()
        queued = [t.id for t in open_tickets if t.status is TicketStatus.QUEUED]
        position = queued.index(ticket.id) + 1 if ticket.id in queued else 1
        return HandoffStatus(
            HandoffState.QUEUED,
            ticket_id=ticket.id,
            queue_position=position,
            wait_estimate_s=round(self._estimate(position), 1),
        )

    async def _answered(
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
            ticket = await self._must_get(ticket_id)
            data: dict[str, Any] = {}
            if ticket.awaiting_since is not None:
                response = round((now - ticket.awaiting_since).total_seconds(), 3)
                data["response_s"] = response
                ticket = replace(
                    ticket,
                    response_times=(*ticket.response_times, response),
                    awaiting_since=None,
                )
            if ticket.first_response_at is None:
                data["first"] = True
                ticket = replace(ticket, first_response_at=now)
            if canned is not None:
                data["canned"] = canned
            await self._tickets.save(ticket)
        data["operator"] = self.operator_name(operator_id)
        event = self._event(EventKind.OPERATOR_REPLY, ticket, now, **data)
        await self._record([replace(event, operator_id=operator_id, article_id=article)])

    async def _operator(self, operator_id: int, name: str) -> Operator:
        known = self._operators.get(operator_id)
        if known is not None and (known.name == name or not name):
            return known
        operator = replace(known, name=name) if known else Operator(operator_id, name)
        self._operators[operator_id] = operator
        await self._staff.save_operator(operator)
        return operator

    async def _loads(self) -> dict[int, int]:
        loads: dict[int, int] = {}
        for ticket in await self._tickets.open_tickets():
            if ticket.status is TicketStatus.ASSIGNED and ticket.operator_id is not None:
                loads[ticket.operator_id] = loads.get(ticket.operator_id, 0) + 1
        return loads

    async def _load_of(self, operator_id: int) -> int:
        return (await self._loads()).get(operator_id, 0)

    async def _open_ticket(self, ticket_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise self._refuse("not_found")
        if not ticket.is_open:
            raise self._refuse("closed")
        return ticket

    async def _must_get(self, ticket_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise self._refuse("not_found")
        return ticket

    async def _closed_ticket_of(self, ticket_id: int, user_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None or ticket.user_id != user_id or ticket.is_open:
            raise self._refuse("not_found")
        return ticket

    def _check_category(self, category: str | None, subcategory: str | None) -> None:
        taxonomy = self.params.categories
        if not taxonomy:
            return
        if category is None:
            if self.params.require_category:
                raise self._refuse("category_required")
            return
        subs = taxonomy.get(category)
        if subs is None:
            raise self._refuse("unknown_category")
        if subcategory is None:
            if subs and self.params.require_category:
                raise self._refuse("category_required")
            return
        if subcategory not in subs:
            raise self._refuse("unknown_category")

    def _guess_category(self, request: HandoffRequest) -> str | None:
        """The bot's best guess: the given one, else the category of the articles it saw."""
        taxonomy = self.params.categories
        candidates = [request.suggested_category] if request.suggested_category else []
        ids = [request.article_id, *request.suggested_articles]
        for article_id in ids:
            article = self._knowledge.article(article_id) if article_id else None
            if article is not None and article.category:
                candidates.append(article.category)
        for candidate in candidates:
            if not taxonomy or candidate in taxonomy:
                return candidate
        return None

    def _refuse(self, code: str, **params: object) -> DeskRefusal:
        template = self._refusals.get(code, code.replace("_", " "))
        return DeskRefusal(code, template.format(**params))

    def _event(self, kind: EventKind, ticket: Ticket, now: datetime, **data: Any) -> Event:
        return Event(
            ts=now,
            kind=kind,
            conversation_id=ticket.conversation_id,
            user_id=ticket.user_id,
            ticket_id=ticket.id,
            operator_id=ticket.operator_id,
            data={k: v for k, v in data.items() if v is not None},
            arms=dict(self._arms(ticket.user_id)) if self._arms is not None else {},
        )

    async def _record(self, events: Sequence[Event]) -> None:
        if events:
            await self._events.append_many(events)

    # --- internals: the staff channel -----------------------------------------------------

    def _card_task(self, ticket: Ticket) -> asyncio.Task[Ticket | None]:
        """The posting of the ticket's card: the one in progress, or a new one."""
        task = self._card_tasks.get(ticket.id)
        if task is None:
            task = asyncio.create_task(self._post_card(ticket), name=f"card-{ticket.id}")
            self._card_tasks[ticket.id] = task
            task.add_done_callback(lambda done: self._card_done(ticket.id, done))
        return task

    def _card_done(self, ticket_id: int, task: asyncio.Task[Ticket | None]) -> None:
        if self._card_tasks.get(ticket_id) is task:
            del self._card_tasks[ticket_id]
        error = None if task.cancelled() else task.exception()
        if error is not None:
            logger.error("ticket %d: posting its card failed", ticket_id, exc_info=error)

    async def _ensure_card(self, ticket_id: int, *, lost: int | None = None) -> Ticket | None:
        """The ticket with a card in the staff group: posted once when it has none (or when
        its card `lost` is gone); concurrent callers share that one posting. None when the
        staff group is unreachable."""
        if ticket_id not in self._card_tasks:
            ticket = await self._must_get(ticket_id)
            if ticket.card_message_id is not None and ticket.card_message_id != lost:
                return ticket  # it has a card (another caller just recreated it)
            if ticket_id not in self._card_tasks:
                self._card_task(ticket)
        return await asyncio.shield(self._card_tasks[ticket_id])

    async def drain(self) -> None:
        """Wait for cards and staff-group notices still being sent (before a shutdown)."""
        while self._card_tasks or self._staff_tasks:
            pending = [*self._card_tasks.values(), *self._staff_tasks]
            await asyncio.gather(*pending, return_exceptions=True)

    async def _post_card(self, ticket: Ticket) -> Ticket | None:
        """Create the ticket's topic and card; None when the staff group is unreachable."""
        try:
            place = await self._notifier.open_ticket(ticket)
        except StaffUnavailableError as error:
            logger.warning("ticket %d: staff group unreachable, kept queued: %s", ticket.id, error)
            return None
        async with self._lock:
            fresh = await self._must_get(ticket.id)
            fresh = replace(fresh, topic_id=place.topic_id, card_message_id=place.card_message_id)
            await self._tickets.save(fresh)
        logger.info(
            "ticket %d: card %d in topic %s", ticket.id, place.card_message_id, place.topic_id
        )
        return fresh

    async def _with_place(self, ticket_id: int, action: Callable[[Ticket], Awaitable[T]]) -> T:
        """Run `action` on the ticket's place; a lost topic is recreated once and retried.

        Raises:
            StaffUnavailableError: the staff group cannot be reached.
        """
        ticket = await self._must_get(ticket_id)
        if ticket.card_message_id is None or ticket_id in self._card_tasks:
            posted = await self._ensure_card(ticket_id)
            if posted is None:
                raise StaffUnavailableError(f"no place for ticket {ticket_id}")
            ticket = posted
        try:
            return await action(ticket)
        except TopicLostError:
            logger.warning("ticket %d: its topic or card is gone; recreating it", ticket_id)
            posted = await self._ensure_card(ticket_id, lost=ticket.card_message_id)
            if posted is None:
                raise StaffUnavailableError(f"no place for ticket {ticket_id}") from None
            return await action(posted)

    async def _copy_user_messages(self, ticket_id: int, message_ids: Sequence[int]) -> bool:
        """Copy to the staff; kept as pending (and retried by `tick`) when unreachable."""
        try:
            copies = await self._with_place(
                ticket_id, lambda t: self._notifier.copy_to_staff(t, message_ids)
            )
        except (StaffUnavailableError, TopicLostError) as error:
            logger.warning("ticket %d: user message(s) kept for later: %s", ticket_id, error)
            async with self._lock:
                ticket = await self._must_get(ticket_id)
                pending = tuple(dict.fromkeys([*ticket.pending_copies, *message_ids]))
                await self._tickets.save(replace(ticket, pending_copies=pending))
            return False
        except Exception:
            # Not a passing outage (the user deleted the message, say): retrying cannot help.
            logger.exception("ticket %d: user message(s) %s not copied", ticket_id, message_ids)
            return False
        user_id = (await self._must_get(ticket_id)).user_id
        for source, copy in zip(message_ids, copies, strict=False):
            await self._staff.add_link(
                MessageLink(ticket_id, user_id, source, copy, from_user=True)
            )
        return True

    async def _flush_pending(self, ticket_id: int) -> None:
        async with self._lock:
            ticket = await self._must_get(ticket_id)
            pending = ticket.pending_copies
            await self._tickets.save(replace(ticket, pending_copies=()))
        if pending:
            await self._copy_user_messages(ticket_id, pending)

    async def _assist(self, ticket_id: int, text: str | None) -> None:
        ticket = await self._must_get(ticket_id)
        article_ids = self._pending_assist.pop(ticket.user_id, ())
        articles = [a for a in map(self._knowledge.article, article_ids) if a is not None][:3]
        canned = self._canned_for(text, ticket.lang) if text else []
        if not articles and not canned:
            return
        if articles:
            async with self._lock:
                fresh = await self._must_get(ticket_id)
                merged = tuple(dict.fromkeys([*fresh.assist_articles, *article_ids]))[-30:]
                await self._tickets.save(replace(fresh, assist_articles=merged))
        try:
            await self._with_place(
                ticket_id, lambda t: self._notifier.post_assist(t, articles, canned)
            )
        except StaffUnavailableError as error:
            logger.warning("ticket %d: agent assist not posted: %s", ticket_id, error)

    async def _notify_banned(self, user_id: int, lang: Lang) -> None:
        if await self.take_ban_notice(user_id):
            await self._run(
                [lambda: self._notifier.to_user(None, user_id, lang, Message(Notice.BANNED))]
            )

    def _user_effect(self, ticket: Ticket, notice: Notice, **params: Any) -> Effect:
        message = Message(notice, params)

        async def effect() -> None:
            await self._notifier.to_user(ticket, ticket.user_id, ticket.lang, message)

        return effect

    def _staff_effect(self, ticket_id: int, message: Message) -> Effect:
        async def effect() -> None:
            await self._with_place(ticket_id, lambda t: self._notifier.to_staff(t, message))

        return _for_staff(effect)

    def _card_effect(self, ticket_id: int) -> Effect:
        async def effect() -> None:
            await self._with_place(ticket_id, self._notifier.update_card)

        return _for_staff(effect)

    def _topic_effect(self, ticket_id: int, is_open: bool) -> Effect:
        async def effect() -> None:
            ticket = await self._must_get(ticket_id)
            if ticket.topic_id is None:
                return
            try:
                await self._notifier.set_topic_open(ticket, is_open)
            except TopicLostError:
                logger.info("ticket %d: topic gone, nothing to %s", ticket_id, is_open)

        return _for_staff(effect)

    async def _run(self, effects: Collection[Effect]) -> None:
        """Send what state changes call for; a failed send is logged, never lost silently.

        Users are told first. What goes to the staff group follows in order, after what
        earlier calls queued for it; a paced group may take a minute, so this waits for it
        only briefly (`card_wait_s`) and lets it finish in the background (`drain` awaits it).
        """
        staff = [effect for effect in effects if isinstance(effect, _ForStaff)]
        for effect in effects:
            if not isinstance(effect, _ForStaff):
                await _attempt(effect)
        if not staff:
            return
        previous = self._staff_chain

        async def in_order() -> None:
            if previous is not None:
                await asyncio.gather(previous, return_exceptions=True)
            for effect in staff:
                await _attempt(effect)

        chain = asyncio.create_task(in_order())
        self._staff_chain = chain
        self._staff_tasks.add(chain)
        chain.add_done_callback(self._staff_tasks.discard)
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(chain), self.params.card_wait_s)
