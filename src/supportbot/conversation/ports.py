"""The small async interfaces the conversation engine needs besides the domain ports."""

from __future__ import annotations

import enum
from typing import Protocol

from supportbot.conversation.state import ConversationState, Feedback, Treatment


class ConversationRepository(Protocol):
    """Conversation state per user, feedback, and users who blocked the bot."""

    async def load(self, user_id: int) -> ConversationState | None:
        """The user's state, or None for a user never seen."""
        ...

    async def save(self, state: ConversationState) -> None:
        """Store the user's state (replacing the previous one)."""
        ...

    async def add_feedback(self, feedback: Feedback) -> None:
        """Record a "This helped" / "Didn't help" press."""
        ...

    async def feedback(self, conversation_id: str) -> list[Feedback]:
        """The feedback given in one conversation, oldest first."""
        ...

    async def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Mark (or unmark) a user who blocked the bot: nothing is sent to them meanwhile."""
        ...

    async def is_blocked(self, user_id: int) -> bool:
        """True while the user has the bot blocked."""
        ...


class Intent(enum.StrEnum):
    """What a short message means besides being a question."""

    PERSON = "person"  # "talk to a human"
    NEXT = "next"  # "next", "далее": continue the guide
    YES = "yes"
    NO = "no"
    GREETING = "greeting"  # "hi", "привет": small talk, not a question for anyone
    THANKS = "thanks"  # "thanks", "спасибо": small talk after an answer


class IntentMatcher(Protocol):
    """Recognises intents in free text (fuzzy, typo-tolerant, ru and en)."""

    def match(self, text: str) -> Intent | None:
        """The intent the whole message expresses, or None when it is just a question."""
        ...


class DuplicateDetector(Protocol):
    """Tells whether a message repeats the previous one (the same or nearly the same)."""

    def is_duplicate(self, previous: str, current: str) -> bool:
        """True when `current` says what `previous` said."""
        ...


class Experiments(Protocol):
    """Assigns users to experiment arms (stable across restarts)."""

    def treatment(self, user_id: int) -> Treatment:
        """The user's arms and what they override."""
        ...


class NoExperiments:
    """`Experiments` with no experiment running."""

    def treatment(self, user_id: int) -> Treatment:
        """Every user gets the defaults."""
        return Treatment()
