"""Test doubles for the desk: a recording `StaffNotifier` and a service over in-memory twins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from supportbot.desk.hours import WorkingHours
from supportbot.desk.models import Message, Notice, Place, Ticket
from supportbot.desk.params import DeskParams
from supportbot.desk.ports import StaffUnavailableError, TopicLostError
from supportbot.desk.service import DeskService
from supportbot.domain.events import HandoffReason
from supportbot.domain.handoff import Author, HandoffRequest, TranscriptEntry, UserProfile
from supportbot.domain.models import Article, CannedReply, Lang
from supportbot.retrieval.canned import RapidfuzzCannedMatcher
from supportbot.storage.events import InMemoryEventLog
from supportbot.storage.tickets import InMemoryStaffRepository, InMemoryTicketRepository

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@dataclass
class Sent:
    """One thing the desk sent: where, what, and its parameters."""

    method: str
    ticket_id: int | None
    user_id: int | None = None
    notice: Notice | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class RecordingNotifier:
    """`StaffNotifier` that records every call; can play an unreachable group or a lost topic."""

    sent: list[Sent] = field(default_factory=list)
    unavailable: bool = False
    lost: set[int] = field(default_factory=set)  # ticket ids whose topic is gone
    blocked: set[int] = field(default_factory=set)
    gate: asyncio.Event | None = None  # when set, cards wait for it (a paced staff group)
    staff_gate: asyncio.Event | None = None  # likewise notices and card edits
    at_gate: int = 0  # cards that reached a closed gate
    at_staff_gate: int = 0  # staff notices that reached a closed gate
    _arrivals: asyncio.Condition = field(default_factory=asyncio.Condition)
    _next_topic: int = 100
    _next_message: int = 5000

    async def waiting_for_gate(self, cards: int) -> None:
        """Until `cards` cards wait at the gate (every task before them has run)."""
        async with asyncio.timeout(10), self._arrivals:
            await self._arrivals.wait_for(lambda: self.at_gate >= cards)

    async def waiting_for_staff_gate(self, notices: int) -> None:
        """Until `notices` staff notices wait at the staff gate."""
        async with asyncio.timeout(10), self._arrivals:
            await self._arrivals.wait_for(lambda: self.at_staff_gate >= notices)

    def _check(self, ticket: Ticket) -> None:
        if self.unavailable:
            raise StaffUnavailableError("bot removed from the group")
        if ticket.id in self.lost:
            raise TopicLostError(f"topic of {ticket.id} deleted")

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    async def open_ticket(
        self, ticket: Ticket, keep_topic: Callable[[int], Awaitable[None]]
    ) -> Place:
        if self.gate is not None:
            self.at_gate += 1
            async with self._arrivals:
                self._arrivals.notify_all()
            await self.gate.wait()
        if self.unavailable:
            raise StaffUnavailableError("bot removed from the group")
        if ticket.topic_id is not None and ticket.id not in self.lost:
            place = Place(ticket.topic_id, self._message_id())  # adopted
        else:
            self.lost.discard(ticket.id)
            self._next_topic += 1
            await keep_topic(self._next_topic)
            place = Place(self._next_topic, self._message_id())
        self.sent.append(Sent("open_ticket", ticket.id, params={"topic": place.topic_id}))
        return place

    async def update_card(self, ticket: Ticket) -> None:
        if self.staff_gate is not None:
            await self.staff_gate.wait()
        self._check(ticket)
        self.sent.append(Sent("update_card", ticket.id, params={"status": ticket.status}))

    async def to_staff(self, ticket: Ticket, message: Message) -> None:
        if self.staff_gate is not None:
            self.at_staff_gate += 1
            async with self._arrivals:
                self._arrivals.notify_all()
            await self.staff_gate.wait()
        self._check(ticket)
        self.sent.append(Sent("to_staff", ticket.id, None, message.notice, dict(message.params)))

    async def to_user(
        self, ticket: Ticket | None, user_id: int, lang: Lang, message: Message
    ) -> None:
        self.sent.append(
            Sent(
                "to_user",
                ticket.id if ticket else None,
                user_id,
                message.notice,
                dict(message.params),
            )
        )

    async def copy_to_staff(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        self._check(ticket)
        copies = [self._message_id() for _ in message_ids]
        self.sent.append(Sent("copy_to_staff", ticket.id, params={"ids": list(message_ids)}))
        return copies

    async def copy_to_user(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        if ticket.user_id in self.blocked:
            return []
        copies = [self._message_id() for _ in message_ids]
        self.sent.append(Sent("copy_to_user", ticket.id, ticket.user_id, params={"ids": copies}))
        return copies

    async def send_to_user(self, ticket: Ticket, text: str) -> int:
        self.sent.append(Sent("send_to_user", ticket.id, ticket.user_id, params={"text": text}))
        return self._message_id()

    async def send_article(self, ticket: Ticket, article: Article) -> int:
        self.sent.append(
            Sent("send_article", ticket.id, ticket.user_id, params={"id": article.id})
        )
        return self._message_id()

    async def post_assist(
        self, ticket: Ticket, articles: Sequence[Article], canned: Sequence[CannedReply]
    ) -> None:
        self._check(ticket)
        self.sent.append(
            Sent(
                "post_assist",
                ticket.id,
                params={"articles": [a.id for a in articles], "canned": [c.id for c in canned]},
            )
        )

    async def set_topic_open(self, ticket: Ticket, is_open: bool) -> None:
        self._check(ticket)
        self.sent.append(Sent("set_topic_open", ticket.id, params={"open": is_open}))

    def of(self, method: str, notice: Notice | None = None) -> list[Sent]:
        """Calls of one method (and notice)."""
        return [
            s for s in self.sent if s.method == method and (notice is None or s.notice is notice)
        ]

    def to_users(self, notice: Notice) -> list[Sent]:
        """User notices of one kind."""
        return self.of("to_user", notice)


class Knowledge:
    """`ArticleSource` over a list of articles and canned replies."""

    def __init__(self, articles: Sequence[Article], canned: Sequence[CannedReply] = ()) -> None:
        self._by_id = {a.id: a for a in articles}
        self._canned = list(canned)

    def article(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def canned_replies(self) -> Sequence[CannedReply]:
        return self._canned


class Clock:
    """A settable UTC clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


CANNED = [
    CannedReply("greeting-en", "Greeting", "Hi {name}! This is {operator}.", Lang.EN, ("hello",)),
    CannedReply("greeting-ru", "Приветствие", "Здравствуйте, {name}!", Lang.RU, ("привет",)),
    CannedReply("refund-en", "Refund approved", "Your refund is on its way.", Lang.EN, ("money",)),
]

REFUSALS = {
    "taken": "Already taken by another operator.",
    "at_capacity": "You already have {capacity} tickets.",
    "category_required": "Pick a category first.",
}

CATEGORIES = {"payments": ("card declined", "refunds"), "account": ("login",), "other": ()}


@dataclass
class Desk:
    """A `DeskService` over in-memory twins with its fakes at hand."""

    service: DeskService
    notifier: RecordingNotifier
    events: InMemoryEventLog
    tickets: InMemoryTicketRepository
    staff: InMemoryStaffRepository
    clock: Clock


async def make_desk(
    articles: Sequence[Article],
    *,
    params: DeskParams | None = None,
    hours: WorkingHours | None = None,
    tickets: Any = None,
    staff: Any = None,
    notifier: RecordingNotifier | None = None,
    clock: Clock | None = None,
) -> Desk:
    """A started desk (manual assignment, capacity 4, taxonomy `CATEGORIES` by default)."""
    notifier = notifier or RecordingNotifier()
    events = InMemoryEventLog()
    tickets = tickets or InMemoryTicketRepository()
    staff = staff or InMemoryStaffRepository()
    clock = clock or Clock()
    service = DeskService(
        tickets=tickets,
        staff=staff,
        notifier=notifier,
        events=events,
        knowledge=Knowledge(articles, CANNED),
        canned=RapidfuzzCannedMatcher(),
        params=params or DeskParams(categories=CATEGORIES, anonymous_operator={"en": "Support"}),
        hours=hours,
        refusals=REFUSALS,
        arms=lambda user_id: {"exp": "a"},
        clock=clock,
    )
    await service.start()
    return Desk(service, notifier, events, tickets, staff, clock)


def request(
    user_id: int,
    subject: str = "my card was declined",
    *,
    name: str = "Ivan",
    lang: Lang = Lang.EN,
    article_id: str | None = None,
    suggested: tuple[str, ...] = (),
    conversation: int = 1,
) -> HandoffRequest:
    """A handoff of `user_id` with a two-line transcript."""
    return HandoffRequest(
        conversation_id=f"{user_id}-{conversation}",
        user=UserProfile(user_id, name, "ivan_k", lang),
        reason=HandoffReason.LOW_CONFIDENCE,
        subject=subject,
        transcript=(
            TranscriptEntry(T0, Author.USER, subject),
            TranscriptEntry(T0, Author.BOT, "Card payment declined", article_id, "not_helpful"),
        ),
        article_id=article_id,
        suggested_articles=suggested,
    )
