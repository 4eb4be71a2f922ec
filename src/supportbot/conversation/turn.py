"""One call's accumulator (`Turn`), the engine's knobs and small pure helpers on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from supportbot.conversation.replies import Outgoing, UserInfo
from supportbot.conversation.state import ConversationState, Phase, Treatment
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.events import Event, EventKind
from supportbot.domain.models import Article, Lang


@dataclass(frozen=True, slots=True)
class EngineParams:
    """The engine's knobs (values, not settings)."""

    default_lang: Lang = Lang.EN
    duplicate_window_s: float = 120.0
    idle_timeout_s: float = 6 * 3600.0
    transcript_limit: int = 50


@dataclass(slots=True)
class Turn:
    """What one call accumulates: the state as it changes, messages and events."""

    state: ConversationState
    user: UserInfo
    treatment: Treatment
    now: datetime
    messages: list[Outgoing] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    message_ids: tuple[int, ...] = ()  # the channel's ids of the message being handled

    def say(self, message: Outgoing) -> None:
        self.messages.append(message)

    def event(self, kind: EventKind, article_id: str | None = None, **data: Any) -> None:
        self.events.append(
            Event(
                ts=self.now,
                kind=kind,
                conversation_id=self.state.conversation_id,
                user_id=self.state.user_id,
                ticket_id=self.state.ticket_id,
                article_id=article_id,
                data=data,
                arms=dict(self.treatment.arms),
            )
        )


def merge(existing: Sequence[str], new: Iterable[str]) -> tuple[str, ...]:
    """`existing` followed by the new ids not in it, in order."""
    return tuple(dict.fromkeys([*existing, *new]))


def need(turn: Turn, article: Article | None, *phases: Phase) -> Article:
    """The pressed button's article, if the conversation is in one of `phases`."""
    if article is None or turn.state.phase not in phases:
        raise StaleCallbackError("button does not fit the conversation's state")
    return article
