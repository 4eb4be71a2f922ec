"""The persisted state of one user's conversation with the bot."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from supportbot.domain.handoff import HandoffState, TranscriptEntry
from supportbot.domain.models import Lang


class Phase(enum.StrEnum):
    """Where the conversation stands."""

    IDLE = "idle"  # no open conversation: the next question opens one
    OPEN = "open"  # the bot is answering questions
    GUIDE = "guide"  # walking a step-by-step guide
    CONFIRM = "confirm"  # after the last step: "Did it solve the problem?"
    HANDED_OFF = "handed_off"  # with the desk (queued or with an operator)


@dataclass(frozen=True, slots=True)
class GuidePlace:
    """The guide a user is walking and the step they are on (1-based)."""

    article_id: str
    step: int


@dataclass(frozen=True, slots=True)
class ConversationState:
    """Everything the engine remembers about a user; one row per user in storage.

    `number` counts the user's conversations; buttons carry it, so a button of a closed
    conversation is recognised as out of date. `shown` and `rejected` are article ids of
    the current conversation, never offered again in it. `offered` are the ids the latest
    buttons may refer to (a suggestion list, an answer, an offer while waiting).
    `person_offered` lets a typed "yes" accept the offer of a person.
    """

    user_id: int
    lang: Lang
    lang_explicit: bool = False
    number: int = 0
    phase: Phase = Phase.IDLE
    subject: str = ""
    shown: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    offered: tuple[str, ...] = ()
    guide: GuidePlace | None = None
    last_question: str = ""
    last_question_at: datetime | None = None
    # The desk's answer at the handoff, as it was then (what the user was told). Whether a
    # person has the user now is the ticket's to say (`HandoffPort.open_ticket`).
    handoff_state: HandoffState | None = None
    ticket_id: int | None = None
    transcript: tuple[TranscriptEntry, ...] = ()
    opened_at: datetime | None = None
    updated_at: datetime | None = None
    person_offered: bool = False  # the last reply asked "Shall I pass you to a person?"

    @property
    def conversation_id(self) -> str:
        """Stable id of the current conversation: user id and conversation number."""
        return f"{self.user_id}-{self.number}"

    @property
    def is_open(self) -> bool:
        """True while a conversation is going on."""
        return self.phase is not Phase.IDLE


@dataclass(frozen=True, slots=True)
class Feedback:
    """A "This helped" / "Didn't help" press, per article and conversation."""

    conversation_id: str
    user_id: int
    article_id: str
    helpful: bool
    ts: datetime


@dataclass(frozen=True, slots=True)
class Overrides:
    """What an experiment arm changes for a user (None: the configured default)."""

    answer_threshold: float | None = None
    suggest_threshold: float | None = None
    max_suggestions: int | None = None
    step_by_step: bool | None = None


@dataclass(frozen=True, slots=True)
class Treatment:
    """A user's experiment arms and the overrides they bring."""

    arms: dict[str, str] = field(default_factory=dict)
    overrides: Overrides = field(default_factory=Overrides)
