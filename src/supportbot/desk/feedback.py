"""After a ticket closes: "Was your problem solved?", the 1-5 rating and its comment."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from supportbot.desk.delivery import Delivery
from supportbot.desk.errors import Refusals
from supportbot.desk.journal import Journal
from supportbot.desk.models import Message, Notice, Ticket
from supportbot.desk.ports import TicketRepository
from supportbot.domain.events import EventKind


class Feedback:
    """First-contact resolution and CSAT of closed tickets."""

    def __init__(
        self,
        *,
        tickets: TicketRepository,
        delivery: Delivery,
        journal: Journal,
        refuse: Refusals,
        lock: asyncio.Lock,
        clock: Callable[[], datetime],
        comment_window: timedelta,
    ) -> None:
        self._tickets = tickets
        self._delivery = delivery
        self._journal = journal
        self._refuse = refuse
        self._lock = lock
        self._clock = clock
        self._comment_window = comment_window
        self._awaiting_comment: dict[int, tuple[int, datetime]] = {}

    async def answer_fcr(self, ticket_id: int, user_id: int, solved: bool) -> None:
        """The user's answer to "Was your problem solved?"; then the rating is asked."""
        now = self._clock()
        async with self._lock:
            ticket = await self._closed_ticket_of(ticket_id, user_id)
            if ticket.solved is not None:
                raise self._refuse("changed")  # answered already (a second tap)
            ticket = replace(ticket, solved=solved)
            await self._tickets.save(ticket)
        await self._journal.record(
            [
                self._journal.event(
                    EventKind.FCR, ticket, now, solved=solved, reopened=ticket.reopened
                )
            ]
        )
        await self._delivery.run(
            [self._delivery.to_user(ticket, Notice.ASK_RATING, ticket_id=ticket.id)]
        )

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
            self._awaiting_comment[user_id] = (ticket_id, now + self._comment_window)
        await self._journal.record(
            [self._journal.event(EventKind.RATING, ticket, now, score=score)]
        )
        await self._delivery.run(
            [
                self._delivery.to_user(ticket, Notice.ASK_COMMENT),
                self._delivery.to_staff(
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

    def forget(self, user_id: int) -> None:
        """No comment is awaited any more (the ticket was reopened)."""
        self._awaiting_comment.pop(user_id, None)

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
        await self._journal.record(
            [self._journal.event(EventKind.RATING, ticket, now, score=ticket.rating, comment=text)]
        )
        await self._delivery.run(
            [
                self._delivery.to_user(ticket, Notice.THANKS),
                self._delivery.to_staff(
                    ticket.id,
                    Message(Notice.STAFF_RATED, {"score": ticket.rating, "comment": text}),
                ),
            ]
        )
        return True

    async def _closed_ticket_of(self, ticket_id: int, user_id: int) -> Ticket:
        ticket = await self._tickets.get(ticket_id)
        if ticket is None or ticket.user_id != user_id or ticket.is_open:
            raise self._refuse("not_found")
        return ticket
