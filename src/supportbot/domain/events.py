"""The append-only analytics event log: what happened, to whom, when."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class EventKind(enum.StrEnum):
    """Every kind of event the conversation, the desk and the bot record.

    `data` keys per kind (all optional unless noted):
      message_received: lang (recorded under the conversation the message ended up in)
      decision: decision (answer|suggest|handoff), confidence, articles [ids], text (the user
        message; stored so content gaps can be clustered; masked when reported)
      suggestion_shown: articles [ids]
      article_opened: guide (bool)
      feedback: helpful (bool)
      step_done / step_failed: step (int)
      bot_reply: - (the bot answered the user; first bot response time)
      handoff: reason (low_confidence|user_asked|step_failed|not_helpful), step
      queued: position
      taken: wait_s, operator (name), transfer (bool)  (operator_id set)
      operator_reply: response_s, first (bool), canned (id), operator (name)  (operator_id set)
      closed: category, subcategory, by (operator|user|bot), solved_by_bot (bool), reopened
        (how many times the ticket was reopened before this close)
      rating_requested: -
      rating: score (1-5), comment
      fcr: solved (bool), reopened
      conversation_closed: outcome (self_service|handoff|abandoned)
    A reopened ticket's events carry the id of the conversation that reopened it.
    Every event carries `arms`: {experiment name: arm} for the user at that time.
    """

    MESSAGE_RECEIVED = "message_received"
    DECISION = "decision"
    SUGGESTION_SHOWN = "suggestion_shown"
    ARTICLE_OPENED = "article_opened"
    FEEDBACK = "feedback"
    STEP_DONE = "step_done"
    STEP_FAILED = "step_failed"
    BOT_REPLY = "bot_reply"
    HANDOFF = "handoff"
    QUEUED = "queued"
    TAKEN = "taken"
    OPERATOR_REPLY = "operator_reply"
    CLOSED = "closed"
    RATING_REQUESTED = "rating_requested"
    RATING = "rating"
    FCR = "fcr"
    CONVERSATION_CLOSED = "conversation_closed"


class HandoffReason(enum.StrEnum):
    """Why a conversation went to a person."""

    LOW_CONFIDENCE = "low_confidence"
    USER_ASKED = "user_asked"
    STEP_FAILED = "step_failed"
    NOT_HELPFUL = "not_helpful"


@dataclass(frozen=True, slots=True)
class Event:
    """One fact in the append-only log. `ts` is timezone-aware UTC."""

    ts: datetime
    kind: EventKind
    conversation_id: str
    user_id: int
    ticket_id: int | None = None
    operator_id: int | None = None
    article_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    arms: dict[str, str] = field(default_factory=dict)
