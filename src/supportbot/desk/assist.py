"""Agent assist: articles and canned replies for the operator, and filling them in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace

from supportbot.desk.delivery import Delivery
from supportbot.desk.models import Ticket, short_key
from supportbot.desk.ports import (
    ArticleSource,
    CannedMatcher,
    StaffNotifier,
    StaffUnavailableError,
    TicketRepository,
)
from supportbot.domain.handoff import HandoffRequest
from supportbot.domain.models import Article, CannedReply, Lang

logger = logging.getLogger(__name__)


def fill_placeholders(text: str, *, name: str, operator: str) -> str:
    """A canned reply with {name} and {operator} filled in (other braces stay as written)."""
    return text.replace("{name}", name).replace("{operator}", operator)


class Assist:
    """What the knowledge base offers an operator for a ticket."""

    def __init__(
        self,
        *,
        knowledge: ArticleSource,
        canned: CannedMatcher,
        tickets: TicketRepository,
        notifier: StaffNotifier,
        delivery: Delivery,
        lock: asyncio.Lock,
        canned_limit: int,
        show_operator_name: bool,
        anonymous_operator: Mapping[str, str],
    ) -> None:
        self._knowledge = knowledge
        self._canned = canned
        self._tickets = tickets
        self._notifier = notifier
        self._delivery = delivery
        self._lock = lock
        self._canned_limit = canned_limit
        self._show_operator_name = show_operator_name
        self._anonymous_operator = anonymous_operator

    async def post(self, ticket: Ticket, article_ids: Sequence[str], text: str | None) -> None:
        """Quietly post the articles matching a user's message, and canned replies fitting
        it, into the ticket; the articles stay sendable by a tap."""
        articles = [a for a in map(self._knowledge.article, article_ids) if a is not None][:3]
        canned = self._canned_for(text, ticket.lang) if text else []
        if not articles and not canned:
            return
        if articles:
            async with self._lock:
                fresh = await self._tickets.get(ticket.id)
                if fresh is not None:
                    merged = tuple(dict.fromkeys([*fresh.assist_articles, *article_ids]))[-30:]
                    await self._tickets.save(replace(fresh, assist_articles=merged))
        try:
            await self._delivery.with_place(
                ticket.id, lambda t: self._notifier.post_assist(t, articles, canned)
            )
        except StaffUnavailableError as error:
            logger.warning("ticket %d: agent assist not posted: %s", ticket.id, error)

    def _canned_for(self, message: str, lang: Lang) -> list[CannedReply]:
        """Canned replies for a user's message, in the ticket's language."""
        own = [r for r in self._knowledge.canned_replies() if r.lang is lang]
        return self._canned.for_message(message, own, limit=3)

    def search_canned(self, words: str, lang: Lang | None = None) -> list[CannedReply]:
        """`/t <words>`: the best matching canned replies, the ticket's language first."""
        replies = list(self._knowledge.canned_replies())
        if lang is not None:
            own = [r for r in replies if r.lang is lang]
            found = self._canned.search(words, own, limit=self._canned_limit)
            if found:
                return found
        return self._canned.search(words, replies, limit=self._canned_limit)

    def canned(self, key: str) -> CannedReply | None:
        """The canned reply whose id has this `short_key`."""
        return next((r for r in self._knowledge.canned_replies() if short_key(r.id) == key), None)

    def article(self, ticket: Ticket, key: str) -> Article | None:
        """The ticket's suggested article whose id has this `short_key`."""
        article_id = next((a for a in ticket.assist_articles if short_key(a) == key), None)
        return self._knowledge.article(article_id) if article_id is not None else None

    def fill(self, reply: CannedReply, ticket: Ticket, operator_name: str) -> str:
        """The reply's text for this ticket's user, signed as the settings say."""
        shown = operator_name if self._show_operator_name else ""
        anonymous = self._anonymous_operator.get(ticket.lang.value, "")
        return fill_placeholders(reply.text, name=ticket.user_name, operator=shown or anonymous)

    def guess_category(
        self, request: HandoffRequest, taxonomy: Mapping[str, tuple[str, ...]]
    ) -> str | None:
        """The bot's best guess: the given one, else the category of the articles it saw."""
        candidates = [request.suggested_category] if request.suggested_category else []
        for article_id in [request.article_id, *request.suggested_articles]:
            article = self._knowledge.article(article_id) if article_id else None
            if article is not None and article.category:
                candidates.append(article.category)
        return next((c for c in candidates if not taxonomy or c in taxonomy), None)
