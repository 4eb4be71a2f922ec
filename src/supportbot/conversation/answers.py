"""What the bot answers with: the suggester's decision, an article, a shortlist."""

from __future__ import annotations

import logging
from dataclasses import replace

from supportbot.conversation.books import Books
from supportbot.conversation.replies import Act, Action, Outgoing, Say
from supportbot.conversation.turn import Turn, merge
from supportbot.domain.events import EventKind
from supportbot.domain.handoff import Author
from supportbot.domain.models import Article, Decision
from supportbot.domain.ports import Suggester

logger = logging.getLogger(__name__)


class Answers:
    """Asks the suggester and shows its answer or suggestions."""

    def __init__(self, suggester: Suggester, books: Books) -> None:
        self._suggester = suggester
        self._books = books

    async def decide(self, turn: Turn, text: str) -> Decision:
        overrides = turn.treatment.overrides
        # Only what the user turned down ("Didn't help", "None of these") for this
        # conversation's question is left out: a follow-up ("declined again, what now") may
        # need the article just shown, and a new question one shown for an earlier message.
        decision = await self._suggester.decide(
            text,
            exclude=turn.state.rejected,
            answer_threshold=overrides.answer_threshold,
            suggest_threshold=overrides.suggest_threshold,
            max_suggestions=overrides.max_suggestions,
        )
        ids = [s.article_id for s in decision.suggestions]
        turn.event(
            EventKind.DECISION,
            decision=decision.kind.value,
            confidence=round(decision.confidence, 4),
            articles=ids,
            text=text,
        )
        logger.info(
            "decision user=%d conversation=%s kind=%s confidence=%.3f articles=%s",
            turn.state.user_id,
            turn.state.conversation_id,
            decision.kind.value,
            decision.confidence,
            ids,
        )
        return decision

    def answer(self, turn: Turn, article: Article) -> None:
        step_by_step = turn.treatment.overrides.step_by_step is not False
        actions: list[Action] = []
        if article.has_steps and step_by_step:
            actions.append(Action(Act.GUIDE, article.id))
        actions += [
            Action(Act.HELPED, article.id),
            Action(Act.NOT_HELPED, article.id),
            Action(Act.PERSON),
        ]
        self._books.show(turn, [article.id])
        turn.state = replace(turn.state, offered=merge(turn.state.offered, [article.id]))
        turn.event(EventKind.SUGGESTION_SHOWN, article.id, articles=[article.id])
        turn.say(
            Outgoing(
                Say.ANSWER,
                article=article,
                actions=tuple(actions),
                inline_steps=article.has_steps and not step_by_step,
            )
        )
        self._books.note(turn, Author.BOT, article.title, article.id)

    def suggest(self, turn: Turn, decision: Decision) -> None:
        suggestions = tuple(
            s for s in decision.suggestions if self._suggester.article(s.article_id) is not None
        )[:3]
        ids = [s.article_id for s in suggestions]
        self._books.show(turn, ids)
        turn.state = replace(turn.state, offered=tuple(ids))
        turn.event(EventKind.SUGGESTION_SHOWN, articles=ids)
        actions = tuple(Action(Act.OPEN, s.article_id, label=s.title) for s in suggestions)
        turn.say(
            Outgoing(
                Say.SUGGEST,
                suggestions=suggestions,
                actions=(*actions, Action(Act.NONE_OF_THESE)),
            )
        )
        self._books.note(turn, Author.BOT, "; ".join(s.title for s in suggestions))

    def resume_hint(self, turn: Turn) -> None:
        guide = turn.state.guide
        if guide is None:
            return
        turn.say(
            Outgoing(
                Say.GUIDE_RESUME,
                article=self._suggester.article(guide.article_id),
                actions=(Action(Act.RESUME, guide.article_id, guide.step),),
            )
        )
