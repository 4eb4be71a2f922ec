"""The desk path: handing off to a person, and the user's messages while the desk has them."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from supportbot.conversation.answers import Answers
from supportbot.conversation.books import Books
from supportbot.conversation.ports import Intent
from supportbot.conversation.replies import Act, Action, Outgoing, Say
from supportbot.conversation.state import Phase
from supportbot.conversation.turn import Turn, merge, need
from supportbot.domain.events import EventKind, HandoffReason
from supportbot.domain.handoff import (
    Author,
    HandoffPort,
    HandoffRequest,
    HandoffState,
    OpenTicket,
    UserMessage,
    UserProfile,
)
from supportbot.domain.models import Article, DecisionKind
from supportbot.domain.ports import Suggester

logger = logging.getLogger(__name__)


class DeskPath:
    """Hands the user to a person and forwards what they write meanwhile."""

    def __init__(
        self, handoff: HandoffPort, suggester: Suggester, books: Books, answers: Answers
    ) -> None:
        self._handoff = handoff
        self._suggester = suggester
        self._books = books
        self._answers = answers

    async def ticket_of(self, turn: Turn) -> OpenTicket | None:
        if turn.state.phase is not Phase.HANDED_OFF:
            return None
        return await self._handoff.open_ticket(turn.state.user_id)

    async def forward(
        self, turn: Turn, ticket: OpenTicket, text: str | None, suggestions: Sequence[str] = ()
    ) -> None:
        """The one way a user's message reaches the person handling them."""
        message = UserMessage(turn.message_ids, text)
        if not await self._handoff.forward(ticket.id, message, suggestions):
            logger.warning("ticket %d: the user's message was not forwarded", ticket.id)

    async def with_desk(
        self, turn: Turn, text: str, intent: Intent | None, ticket: OpenTicket
    ) -> None:
        """A message while the desk has the user: forward it, with the articles matching it."""
        self._books.note(turn, Author.USER, text)
        if intent is Intent.PERSON:
            await self.forward(turn, ticket, text)
            turn.say(Outgoing(Say.ALREADY_HANDLING))
            return
        decision = await self._answers.decide(turn, text)
        waiting = ticket.waiting
        best = decision.best
        if waiting and decision.kind is DecisionKind.ANSWER and best is not None:
            article = self._suggester.article(best.article_id)
            if article is not None:
                await self.forward(turn, ticket, text)
                self._books.show(turn, [article.id])
                turn.state = replace(turn.state, offered=(article.id,))
                turn.event(EventKind.SUGGESTION_SHOWN, article.id, articles=[article.id])
                turn.say(
                    Outgoing(
                        Say.WAITING_OFFER,
                        article=article,
                        actions=(
                            Action(Act.WAIT_SOLVED, article.id),
                            Action(Act.KEEP_WAITING, article.id),
                        ),
                    )
                )
                return
        await self.forward(turn, ticket, text, [s.article_id for s in decision.suggestions])
        if waiting:
            turn.say(Outgoing(Say.WAIT_NOTED))

    async def person(self, turn: Turn, article_id: str | None = None) -> None:
        if turn.state.phase is Phase.HANDED_OFF:
            ticket = await self.ticket_of(turn)
            if ticket is not None:
                turn.say(Outgoing(Say.ALREADY_HANDLING))
                return
            self._books.close(turn, "handoff")
        if not turn.state.is_open:
            self._books.open(turn, turn.state.last_question)
        guide = turn.state.guide
        await self.hand_off(
            turn,
            HandoffReason.USER_ASKED,
            article_id=article_id or (guide.article_id if guide else None),
            failed_step=guide.step if guide else None,
        )

    async def hand_off(
        self,
        turn: Turn,
        reason: HandoffReason,
        *,
        article_id: str | None = None,
        failed_step: int | None = None,
    ) -> None:
        state = turn.state
        user = turn.user
        request = HandoffRequest(
            conversation_id=state.conversation_id,
            user=UserProfile(
                user_id=state.user_id,
                first_name=user.first_name,
                username=user.username,
                lang=state.lang,
            ),
            reason=reason,
            subject=state.subject or state.last_question,
            transcript=state.transcript,
            article_id=article_id,
            failed_step=failed_step,
            suggested_articles=state.shown,
        )
        status = await self._handoff.hand_off(request)
        turn.state = replace(
            turn.state,
            phase=Phase.HANDED_OFF,
            handoff_state=status.state,
            ticket_id=status.ticket_id,
            guide=None,
        )
        turn.event(
            EventKind.HANDOFF,
            article_id,
            reason=reason.value,
            **({"step": failed_step} if failed_step is not None else {}),
        )
        if status.state is HandoffState.ALREADY_OPEN:
            turn.say(Outgoing(Say.ALREADY_HANDLING))
        else:
            turn.say(Outgoing(Say.HANDOFF, status=status))
        self._books.note(turn, Author.BOT, f"handoff: {reason.value}")

    async def on_wait_solved(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.HANDED_OFF)
        await self._handoff.cancel_by_user(turn.state.user_id, solved=True)
        await self._books.feedback(turn, art.id, helpful=True)
        turn.say(Outgoing(Say.SOLVED))
        self._books.close(turn, "self_service")

    async def on_keep_waiting(self, turn: Turn, article: Article | None, step: int) -> None:
        art = need(turn, article, Phase.HANDED_OFF)
        turn.state = replace(turn.state, rejected=merge(turn.state.rejected, [art.id]))
        turn.say(Outgoing(Say.KEEP_WAITING))
