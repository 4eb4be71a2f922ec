"""Frozen desk values: tickets, operators, bans, relayed-message links, notices."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from supportbot.domain.handoff import TranscriptEntry
from supportbot.domain.models import Lang


class TicketStatus(enum.StrEnum):
    """Where a ticket stands."""

    QUEUED = "queued"  # waiting for an operator (or for working hours)
    ASSIGNED = "assigned"  # an operator has it
    CLOSED = "closed"


class ClosedBy(enum.StrEnum):
    """Who closed a ticket (the `by` of the `closed` event)."""

    OPERATOR = "operator"
    USER = "user"
    BOT = "bot"


@dataclass(frozen=True, slots=True)
class Ticket:
    """One handed-off conversation, from the handoff to the rating.

    `topic_id` is the forum topic of the ticket (None in reply mode); `card_message_id` the
    bot's card in the staff group (None until it could be posted). `awaiting_since` is the
    oldest user message no operator has answered yet (response times run from it).
    """

    id: int
    user_id: int
    conversation_id: str
    user_name: str
    created_at: datetime
    queued_at: datetime
    username: str | None = None
    lang: Lang = Lang.EN
    subject: str = ""
    reason: str = ""
    status: TicketStatus = TicketStatus.QUEUED
    transcript: tuple[TranscriptEntry, ...] = ()
    article_id: str | None = None
    failed_step: int | None = None
    suggested_category: str | None = None
    previous_id: int | None = None
    operator_id: int | None = None
    operator_name: str | None = None  # as it was when they got the ticket (for its card)
    assigned_at: datetime | None = None
    topic_id: int | None = None
    card_message_id: int | None = None
    first_response_at: datetime | None = None
    awaiting_since: datetime | None = None
    response_times: tuple[float, ...] = ()
    assist_articles: tuple[str, ...] = ()
    pending_copies: tuple[int, ...] = ()  # user messages not yet copied to the staff
    notified_position: int | None = None
    notified_wait_s: float | None = None
    reopened: int = 0
    closed_at: datetime | None = None
    closed_by: ClosedBy | None = None
    category: str | None = None
    subcategory: str | None = None
    solved: bool | None = None
    rating: int | None = None
    comment: str | None = None

    @property
    def is_open(self) -> bool:
        """Queued or assigned."""
        return self.status is not TicketStatus.CLOSED

    @property
    def handling_s(self) -> float | None:
        """Assignment to close, in seconds (the handling time behind wait estimates)."""
        if self.assigned_at is None or self.closed_at is None:
            return None
        return (self.closed_at - self.assigned_at).total_seconds()

    # --- transitions: each returns the ticket after it; the caller saves it expecting
    # the status it had before (`status`), so two concurrent transitions cannot both win.

    def assign(self, operator_id: int, operator_name: str, now: datetime) -> Ticket:
        """Taken by (or given to) an operator; a transfer keeps the first assignment time."""
        return replace(
            self,
            status=TicketStatus.ASSIGNED,
            operator_id=operator_id,
            operator_name=operator_name,
            assigned_at=self.assigned_at or now,
            notified_position=None,
            notified_wait_s=None,
        )

    def requeue(self, now: datetime) -> Ticket:
        """Back in the queue: its wait starts again, so the next take's wait excludes this
        handling."""
        return replace(
            self,
            status=TicketStatus.QUEUED,
            operator_id=None,
            operator_name=None,
            queued_at=now,
            notified_position=None,
            notified_wait_s=None,
        )

    def close(
        self,
        now: datetime,
        by: ClosedBy,
        category: str | None = None,
        subcategory: str | None = None,
    ) -> Ticket:
        """Closed by an operator, the user or the bot, with the category it was filed under."""
        return replace(
            self,
            status=TicketStatus.CLOSED,
            closed_at=now,
            closed_by=by,
            category=category,
            subcategory=subcategory,
            awaiting_since=None,
            notified_position=None,
            notified_wait_s=None,
        )

    def reopen(
        self,
        now: datetime,
        transcript: tuple[TranscriptEntry, ...] | None = None,
        conversation_id: str | None = None,
    ) -> Ticket:
        """Queued again after closing; its events from here on belong to `conversation_id`
        (the conversation that brought it back) when given."""
        return replace(
            self,
            status=TicketStatus.QUEUED,
            queued_at=now,
            operator_id=None,
            operator_name=None,
            closed_at=None,
            closed_by=None,
            solved=None,
            rating=None,
            comment=None,
            reopened=self.reopened + 1,
            transcript=self.transcript
            if transcript is None
            else (*self.transcript, *transcript)[-50:],
            conversation_id=self.conversation_id if conversation_id is None else conversation_id,
        )

    def received(self, now: datetime, message_ids: tuple[int, ...]) -> Ticket:
        """A user message arrived: it awaits an answer, and is due to the staff group."""
        return replace(
            self,
            awaiting_since=self.awaiting_since or now,
            pending_copies=tuple(dict.fromkeys([*self.pending_copies, *message_ids])),
        )

    def told(self, position: int | None, wait_s: float | None) -> Ticket:
        """The queue place and wait the user was last told."""
        return replace(self, notified_position=position, notified_wait_s=wait_s)

    def answered(self, now: datetime) -> tuple[Ticket, float | None]:
        """An operator's message reached the user; with the response time, when one ran."""
        response = None
        ticket = self
        if self.awaiting_since is not None:
            response = round((now - self.awaiting_since).total_seconds(), 3)
            ticket = replace(
                ticket, response_times=(*self.response_times, response), awaiting_since=None
            )
        if ticket.first_response_at is None:
            ticket = replace(ticket, first_response_at=now)
        return ticket, response


@dataclass(frozen=True, slots=True)
class NewTicket:
    """A ticket before the repository gave it an id."""

    user_id: int
    conversation_id: str
    user_name: str
    created_at: datetime
    username: str | None = None
    lang: Lang = Lang.EN
    subject: str = ""
    reason: str = ""
    transcript: tuple[TranscriptEntry, ...] = ()
    article_id: str | None = None
    failed_step: int | None = None
    suggested_category: str | None = None
    previous_id: int | None = None
    assist_articles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Operator:
    """A member of the staff group who has acted as an operator."""

    id: int
    name: str
    online: bool = False
    last_assigned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Ban:
    """A user whose messages no longer reach the staff group."""

    user_id: int
    banned_at: datetime
    by: int
    notified: bool = False


@dataclass(frozen=True, slots=True)
class MessageLink:
    """A relayed message: the user's copy and the staff group's copy of the same message."""

    ticket_id: int
    user_id: int
    user_message_id: int
    staff_message_id: int
    from_user: bool


class Relay(enum.StrEnum):
    """What became of an operator's message in the staff group."""

    NOT_A_TICKET = "not_a_ticket"  # general chat of the staff group
    INTERNAL = "internal"  # `//` or /note: stays with the staff
    RELAYED = "relayed"
    UNDELIVERED = "undelivered"  # the user blocked the bot


@dataclass(frozen=True, slots=True)
class Place:
    """Where a ticket lives in the staff group: its topic (forum mode) and its card."""

    topic_id: int | None
    card_message_id: int


class Notice(enum.StrEnum):
    """Things the desk tells a user or the staff; adapters hold the texts."""

    # to the user
    QUEUE_POSITION = "queue_position"  # position, minutes
    ASSIGNED = "assigned"  # operator (name or "")
    CLOSED_ASK_FCR = "closed_ask_fcr"  # "Was your problem solved?" yes / no
    ASK_RATING = "ask_rating"  # 1..5
    ASK_COMMENT = "ask_comment"  # thanks; a comment is welcome
    THANKS = "thanks"  # after the comment
    BANNED = "banned"  # the one polite notice
    REOPENED = "reopened"
    # to the staff (in the ticket's topic or under its card)
    STAFF_TAKEN = "staff_taken"  # operator
    STAFF_TRANSFERRED = "staff_transferred"  # operator (to), by
    STAFF_RETURNED = "staff_returned"  # back in the queue
    STAFF_CLOSED = "staff_closed"  # by, category, subcategory
    STAFF_CLOSED_BY_USER = "staff_closed_by_user"
    STAFF_REOPENED = "staff_reopened"
    STAFF_RATED = "staff_rated"  # score, solved, comment
    STAFF_BANNED = "staff_banned"


@dataclass(frozen=True, slots=True)
class Message:
    """A notice with its parameters and optional buttons (by key) for the adapter to render."""

    notice: Notice
    params: dict[str, Any] = field(default_factory=dict)


def short_key(value: str) -> str:
    """A short stable key for an id in callback data (64 bytes at most there)."""
    return hashlib.blake2b(value.encode(), digest_size=5).hexdigest()
