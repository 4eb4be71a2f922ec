"""The desk's ports: storage of tickets and staff, the staff channel, canned reply matching."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from supportbot.desk.models import (
    Ban,
    Message,
    MessageLink,
    NewTicket,
    Operator,
    Place,
    Ticket,
    TicketStatus,
)
from supportbot.domain.models import Article, CannedReply, Lang


class TopicLostError(Exception):
    """The ticket's topic (or card) is gone from the staff group, e.g. deleted by hand."""


class StaffUnavailableError(Exception):
    """The staff group cannot be reached (the bot was removed, or Telegram is down)."""


class TicketRepository(Protocol):
    """Tickets, with a compare-and-set save so concurrent updates cannot both win."""

    async def create(self, draft: NewTicket) -> Ticket:
        """Store a new queued ticket and give it the next id."""
        ...

    async def get(self, ticket_id: int) -> Ticket | None:
        """One ticket by id."""
        ...

    async def save(self, ticket: Ticket, *, expect: TicketStatus | None = None) -> bool:
        """Replace the stored ticket; with `expect`, only if its stored status is `expect`.

        Returns False (and changes nothing) when the status did not match.
        """
        ...

    async def open_tickets(self) -> list[Ticket]:
        """Every queued or assigned ticket, oldest `queued_at` first."""
        ...

    async def latest_for_user(self, user_id: int) -> Ticket | None:
        """The user's most recent ticket, open or closed."""
        ...

    async def by_topic(self, topic_id: int) -> Ticket | None:
        """The ticket whose forum topic this is."""
        ...

    async def by_card(self, message_id: int) -> Ticket | None:
        """The ticket whose card (in reply mode) is this message."""
        ...

    async def recent_handling_s(self, limit: int) -> list[float]:
        """Handling times (assignment to close) of the last `limit` handled tickets."""
        ...


class StaffRepository(Protocol):
    """Operators, bans and the links between relayed copies of messages."""

    async def save_operator(self, operator: Operator) -> None:
        """Insert or replace an operator."""
        ...

    async def operators(self) -> list[Operator]:
        """Every known operator."""
        ...

    async def save_ban(self, ban: Ban) -> None:
        """Insert or replace a ban."""
        ...

    async def remove_ban(self, user_id: int) -> None:
        """Lift a ban (no-op when there is none)."""
        ...

    async def bans(self) -> list[Ban]:
        """Every ban in force."""
        ...

    async def add_link(self, link: MessageLink) -> None:
        """Remember that two messages are copies of each other."""
        ...

    async def link_of_user_message(self, user_id: int, message_id: int) -> MessageLink | None:
        """The link of a message in the user's private chat."""
        ...

    async def link_of_staff_message(self, message_id: int) -> MessageLink | None:
        """The link of a message in the staff group."""
        ...


class StaffNotifier(Protocol):
    """The staff channel (a Telegram group) and the user's chat, as the desk sees them.

    Methods that touch an existing ticket's place raise `TopicLostError` when it is gone;
    any method may raise `StaffUnavailableError` when the staff group cannot be reached.
    """

    async def open_ticket(
        self, ticket: Ticket, keep_topic: Callable[[int], Awaitable[None]]
    ) -> Place:
        """Post the ticket's card, in its topic (forum mode); where it went.

        A ticket that has a `topic_id` (a topic made before a crash, its card never posted)
        gets its card there: the topic is adopted, not made twice (a new one is made only
        when that topic is gone). A new topic's id goes to `keep_topic`, which stores it
        before the card is posted.
        """
        ...

    async def update_card(self, ticket: Ticket) -> None:
        """Re-render the card after a status change."""
        ...

    async def to_staff(self, ticket: Ticket, message: Message) -> None:
        """A notice in the ticket's topic (or under its card)."""
        ...

    async def to_user(
        self, ticket: Ticket | None, user_id: int, lang: Lang, message: Message
    ) -> None:
        """A notice to the user in their private chat."""
        ...

    async def copy_to_staff(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        """Copy user messages (an album is several) into the ticket; the new message ids."""
        ...

    async def copy_to_user(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        """Copy operator messages to the user; the new message ids."""
        ...

    async def send_to_user(self, ticket: Ticket, text: str) -> int:
        """Send plain text (a canned reply) to the user as the operator; its message id."""
        ...

    async def send_article(self, ticket: Ticket, article: Article) -> int:
        """Send an article to the user; the id of its (first) message."""
        ...

    async def post_assist(
        self, ticket: Ticket, articles: Sequence[Article], canned: Sequence[CannedReply]
    ) -> None:
        """Quietly post agent-assist suggestions into the ticket, each sendable by a tap."""
        ...

    async def set_topic_open(self, ticket: Ticket, is_open: bool) -> None:
        """Close the ticket's topic when the ticket closes, reopen it when it reopens."""
        ...


class CannedMatcher(Protocol):
    """Fuzzy search over canned replies: `/t <words>`, and replies fitting a user's message."""

    def search(
        self, query: str, replies: Sequence[CannedReply], *, limit: int
    ) -> list[CannedReply]:
        """The best matching replies, best first; empty when nothing is close enough."""
        ...

    def for_message(
        self, message: str, replies: Sequence[CannedReply], *, limit: int
    ) -> list[CannedReply]:
        """Replies whose keywords (tags, title words) the message uses; best first."""
        ...


class ArticleSource(Protocol):
    """The knowledge base as the desk sees it (the suggester satisfies this)."""

    def article(self, article_id: str) -> Article | None:
        """The article currently served under that id, if any."""
        ...

    def canned_replies(self) -> Sequence[CannedReply]:
        """The canned operator replies currently loaded."""
        ...
