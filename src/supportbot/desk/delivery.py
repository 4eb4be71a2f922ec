"""What the desk sends, and in which order: cards, notices, copies, each send retried or logged.

State changes are stored first; what they call for is collected as effects and handed to
`Delivery.run`, which tells users first and queues the staff group's share behind what
earlier calls queued, so a slow or rate-limited staff group never holds up other tickets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from supportbot.desk.errors import Refusals
from supportbot.desk.models import Message, MessageLink, Notice, Ticket
from supportbot.desk.ports import (
    StaffNotifier,
    StaffRepository,
    StaffUnavailableError,
    TicketRepository,
    TopicLostError,
)
from supportbot.domain.effects import follow
from supportbot.domain.models import Article, Lang

logger = logging.getLogger(__name__)

T = TypeVar("T")
Effect = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _ForStaff:
    """An effect for the staff group: it may wait for a paced group, so `run` does not."""

    send: Effect

    async def __call__(self) -> None:
        await self.send()


async def _attempt(effect: Effect) -> None:
    try:
        await effect()
    except StaffUnavailableError as error:
        logger.warning("staff group unreachable: %s", error)
    except Exception:
        logger.exception("desk effect failed")


class Delivery:
    """The one place the desk's sends go through: the ticket's card and topic, notices,
    copies of messages and the links between them."""

    def __init__(
        self,
        *,
        tickets: TicketRepository,
        staff: StaffRepository,
        notifier: StaffNotifier,
        lock: asyncio.Lock,
        refuse: Refusals,
        card_wait_s: float,
    ) -> None:
        self._tickets = tickets
        self._staff = staff
        self._notifier = notifier
        self._lock = lock
        self._refuse = refuse
        self._card_wait_s = card_wait_s
        # Cards being posted, by ticket: a paced staff group may take a minute to take one,
        # and nobody must post a second card meanwhile.
        self._card_tasks: dict[int, asyncio.Task[Ticket | None]] = {}
        # Staff-group effects run in order, each batch after the one before.
        self._staff_chain: asyncio.Task[None] | None = None
        self._staff_tasks: set[asyncio.Task[None]] = set()

    # --- effects ------------------------------------------------------------------------

    def to_user(self, ticket: Ticket, notice: Notice, **params: Any) -> Effect:
        """A notice to the ticket's user."""
        message = Message(notice, params)

        async def effect() -> None:
            await self._notifier.to_user(ticket, ticket.user_id, ticket.lang, message)

        return effect

    def for_staff(self, send: Effect) -> Effect:
        """Any effect bound for the staff group: queued behind what is queued there."""
        return _ForStaff(send)

    def banned(self, user_id: int, lang: Lang) -> Effect:
        """The banned user's one polite notice."""

        async def effect() -> None:
            await self._notifier.to_user(None, user_id, lang, Message(Notice.BANNED))

        return effect

    def to_staff(self, ticket_id: int, message: Message) -> Effect:
        """A notice in the ticket's topic (or under its card)."""

        async def effect() -> None:
            await self.with_place(ticket_id, lambda t: self._notifier.to_staff(t, message))

        return _ForStaff(effect)

    def card(self, ticket_id: int) -> Effect:
        """The card re-rendered after a change."""

        async def effect() -> None:
            await self.with_place(ticket_id, self._notifier.update_card)

        return _ForStaff(effect)

    def topic(self, ticket_id: int, is_open: bool) -> Effect:
        """The ticket's topic closed or reopened with it (forum mode only)."""

        async def effect() -> None:
            ticket = await self._must_get(ticket_id)
            if ticket.topic_id is None:
                return
            try:
                await self._notifier.set_topic_open(ticket, is_open)
            except TopicLostError:
                logger.info("ticket %d: topic gone, nothing to %s", ticket_id, is_open)

        return _ForStaff(effect)

    async def run(self, effects: Collection[Effect], *, wait: bool = True) -> None:
        """Send what state changes call for; a failed send is logged, never lost silently.

        Users are told first. What goes to the staff group follows in order, after what
        earlier calls queued for it; a paced group may take a minute, so this waits for it
        only briefly (`card_wait_s`, not at all without `wait`) and lets it finish in the
        background (`drain` awaits it).
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
        follow(chain)  # the update is handled once this went out
        self._staff_chain = chain
        self._staff_tasks.add(chain)
        chain.add_done_callback(self._staff_tasks.discard)
        if not wait:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(chain), self._card_wait_s)

    async def drain(self) -> None:
        """Wait for cards and staff-group notices still being sent (before a shutdown)."""
        while self._card_tasks or self._staff_tasks:
            pending = [*self._card_tasks.values(), *self._staff_tasks]
            await asyncio.gather(*pending, return_exceptions=True)

    # --- the ticket's place in the staff group ------------------------------------------

    async def wait_for_card(self, ticket: Ticket) -> None:
        """Start posting a new ticket's card and wait for it briefly (`card_wait_s`): the
        user's reply does not wait long for a paced staff group; whoever needs the card
        next waits for that same posting."""
        card = self._card_task(ticket)
        with suppress(Exception):  # a failure is logged where the card is posted
            await asyncio.wait_for(asyncio.shield(card), self._card_wait_s)

    def _card_task(self, ticket: Ticket) -> asyncio.Task[Ticket | None]:
        """The posting of the ticket's card: the one in progress, or a new one."""
        task = self._card_tasks.get(ticket.id)
        if task is None:
            task = asyncio.create_task(self._post_card(ticket), name=f"card-{ticket.id}")
            follow(task)
            self._card_tasks[ticket.id] = task
            task.add_done_callback(lambda done: self._card_done(ticket.id, done))
        return task

    def _card_done(self, ticket_id: int, task: asyncio.Task[Ticket | None]) -> None:
        if self._card_tasks.get(ticket_id) is task:
            del self._card_tasks[ticket_id]
        error = None if task.cancelled() else task.exception()
        if error is not None:
            logger.error("ticket %d: posting its card failed", ticket_id, exc_info=error)

    async def ensure_card(self, ticket_id: int, *, lost: int | None = None) -> Ticket | None:
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

    async def _post_card(self, ticket: Ticket) -> Ticket | None:
        """Create the ticket's topic and card; None when the staff group is unreachable."""

        async def keep_topic(topic_id: int) -> None:
            # Stored before the card is posted: a crash in between leaves a topic to adopt.
            async with self._lock:
                fresh = await self._must_get(ticket.id)
                await self._tickets.save(replace(fresh, topic_id=topic_id))

        try:
            place = await self._notifier.open_ticket(ticket, keep_topic)
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

    async def with_place(self, ticket_id: int, action: Callable[[Ticket], Awaitable[T]]) -> T:
        """Run `action` on the ticket's place; a lost topic is recreated once and retried.

        Raises:
            StaffUnavailableError: the staff group cannot be reached.
        """
        ticket = await self._must_get(ticket_id)
        if ticket.card_message_id is None or ticket_id in self._card_tasks:
            posted = await self.ensure_card(ticket_id)
            if posted is None:
                raise StaffUnavailableError(f"no place for ticket {ticket_id}")
            ticket = posted
        try:
            return await action(ticket)
        except TopicLostError:
            logger.warning("ticket %d: its topic or card is gone; recreating it", ticket_id)
            posted = await self.ensure_card(ticket_id, lost=ticket.card_message_id)
            if posted is None:
                raise StaffUnavailableError(f"no place for ticket {ticket_id}") from None
            return await action(posted)

    # --- copies of messages -------------------------------------------------------------

    async def copy_from_user(self, ticket_id: int, message_ids: Sequence[int]) -> bool:
        """Copy to the staff; kept as pending (and retried by `flush`) when unreachable.
        A message copied before (an update repeated after a crash) is not copied again."""
        user_id = (await self._must_get(ticket_id)).user_id
        message_ids = [
            m for m in message_ids if await self._staff.link_of_user_message(user_id, m) is None
        ]
        if not message_ids:
            return True
        try:
            copies = await self.with_place(
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
        for source, copy in zip(message_ids, copies, strict=False):
            await self._staff.add_link(
                MessageLink(ticket_id, user_id, source, copy, from_user=True)
            )
        return True

    async def flush(self, ticket_id: int) -> None:
        """Copy the user messages that could not reach the staff group before."""
        async with self._lock:
            ticket = await self._must_get(ticket_id)
            pending = ticket.pending_copies
            await self._tickets.save(replace(ticket, pending_copies=()))
        if pending:
            await self.copy_from_user(ticket_id, pending)

    async def copy_from_operator(self, ticket: Ticket, message_ids: Sequence[int]) -> bool:
        """Copy an operator's message(s) to the user; False when the user blocked the bot.
        A message copied before (an update repeated after a crash) is not copied again."""
        message_ids = [
            m for m in message_ids if await self._staff.link_of_staff_message(m) is None
        ]
        if not message_ids:
            return True
        copies = await self.with_place(
            ticket.id, lambda t: self._notifier.copy_to_user(t, message_ids)
        )
        for source, copy in zip(message_ids, copies, strict=False):
            await self._staff.add_link(
                MessageLink(ticket.id, ticket.user_id, copy, source, from_user=False)
            )
        return bool(copies)

    async def text(self, ticket_id: int, text: str) -> int:
        """Plain text (a canned reply) to the ticket's user as the operator; its message id."""
        return await self.with_place(ticket_id, lambda t: self._notifier.send_to_user(t, text))

    async def article(self, ticket_id: int, article: Article) -> int:
        """An article to the ticket's user; the id of its (first) message."""
        return await self.with_place(ticket_id, lambda t: self._notifier.send_article(t, article))

    async def _must_get(self, ticket_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None:
            raise self._refuse("not_found")
        return ticket
