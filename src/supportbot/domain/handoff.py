"""The contract between the conversation engine and the operator desk."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from supportbot.domain.events import HandoffReason
from supportbot.domain.models import Lang


class Author(enum.StrEnum):
    """Who wrote a line of the transcript."""

    USER = "user"
    BOT = "bot"
    OPERATOR = "operator"


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line of the conversation so far, as the operator's ticket card shows it."""

    ts: datetime
    author: Author
    text: str
    article_id: str | None = None
    reaction: str | None = None  # e.g. "helpful", "not_helpful", "step_failed"


@dataclass(frozen=True, slots=True)
class UserProfile:
    """What the desk knows of a user: their private chat id and public profile."""

    user_id: int
    first_name: str
    username: str | None = None
    lang: Lang = Lang.EN


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """The conversation hands a user to a person; everything the operator should see."""

    conversation_id: str
    user: UserProfile
    reason: HandoffReason
    subject: str
    transcript: tuple[TranscriptEntry, ...]
    article_id: str | None = None
    failed_step: int | None = None
    suggested_category: str | None = None
    suggested_articles: tuple[str, ...] = ()


class HandoffState(enum.StrEnum):
    """Where a handed-off user stands."""

    ASSIGNED = "assigned"  # an operator has it
    QUEUED = "queued"  # waiting for a free operator
    AFTER_HOURS = "after_hours"  # waiting for working hours
    UNAVAILABLE = "unavailable"  # no desk configured: no operator can answer
    ALREADY_OPEN = "already_open"  # the user already has an open ticket


@dataclass(frozen=True, slots=True)
class HandoffStatus:
    """The desk's answer to a handoff: what to tell the user."""

    state: HandoffState
    ticket_id: int | None = None
    queue_position: int | None = None
    wait_estimate_s: float | None = None
    opens_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class OpenTicket:
    """The user's open ticket: the one source of truth for "a person is handling this".

    `waiting` is True while no operator has it yet (queued, or waiting for working hours).
    """

    id: int
    waiting: bool


@dataclass(frozen=True, slots=True)
class UserMessage:
    """A message (several for an album) the user wrote while a person handles them.

    `message_ids` are the channel's ids of the user's messages (empty where there are none,
    as in a terminal chat); `text` is the text or caption, if any.
    """

    message_ids: tuple[int, ...] = ()
    text: str | None = None


class HandoffPort(Protocol):
    """What the conversation engine needs from the desk."""

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """Open (or find) the user's ticket and queue or assign it."""
        ...

    async def open_ticket(self, user_id: int) -> OpenTicket | None:
        """The user's open ticket, if any: while it exists, a person is in charge."""
        ...

    async def forward(
        self, ticket_id: int, message: UserMessage, suggestions: Sequence[str]
    ) -> bool:
        """The user's message for the person handling the ticket, with the articles that
        match it (agent assist). False when there is no ticket to take it."""
        ...

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """The user withdrew (an article solved it) or closed the ticket themselves."""
        ...
