"""The conversation's records: opening and closing it, the transcript, feedback."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

from supportbot.conversation.ports import ConversationRepository
from supportbot.conversation.state import Feedback, Phase
from supportbot.conversation.turn import EngineParams, Turn, merge
from supportbot.domain.events import EventKind
from supportbot.domain.handoff import Author, TranscriptEntry

# What a conversation carries that the next one must not inherit (opening and closing alike).
_FRESH: Final[dict[str, Any]] = {
    "shown": (),
    "rejected": (),
    "offered": (),
    "guide": None,
    "handoff_state": None,
    "ticket_id": None,
    "transcript": (),
}


class Books:
    """Changes to the conversation's record that every path shares."""

    def __init__(self, repository: ConversationRepository, params: EngineParams) -> None:
        self._repo = repository
        self._params = params

    async def feedback(self, turn: Turn, article_id: str, *, helpful: bool) -> None:
        await self._repo.add_feedback(
            Feedback(turn.state.conversation_id, turn.state.user_id, article_id, helpful, turn.now)
        )
        turn.event(EventKind.FEEDBACK, article_id, helpful=helpful)
        self.note(
            turn, Author.USER, "helpful" if helpful else "not helpful", article_id, reaction=True
        )

    def open(self, turn: Turn, subject: str) -> None:
        s = turn.state
        turn.state = replace(
            s,
            number=s.number + 1,
            phase=Phase.OPEN,
            subject=subject,
            opened_at=turn.now,
            **_FRESH,
        )

    def close(self, turn: Turn, outcome: str) -> None:
        turn.event(EventKind.CONVERSATION_CLOSED, outcome=outcome)
        turn.state = replace(
            turn.state,
            phase=Phase.IDLE,
            person_offered=False,
            **_FRESH,
        )

    def show(self, turn: Turn, ids: Sequence[str]) -> None:
        turn.state = replace(turn.state, shown=merge(turn.state.shown, ids))

    def note(
        self,
        turn: Turn,
        author: Author,
        text: str,
        article_id: str | None = None,
        *,
        reaction: bool = False,
    ) -> None:
        entry = TranscriptEntry(
            ts=turn.now,
            author=author,
            text=text,
            article_id=article_id,
            reaction=text.replace(" ", "_") if reaction else None,
        )
        limit = self._params.transcript_limit
        turn.state = replace(turn.state, transcript=(*turn.state.transcript, entry)[-limit:])
