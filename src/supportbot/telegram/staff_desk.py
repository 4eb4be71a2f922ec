"""`TelegramStaffDesk`: the desk's `StaffNotifier` over an aiogram Bot and a staff group.

Forum groups get one topic per ticket; other groups use reply mode (the bot's card of the
ticket, and operators reply to it). Everything sent into the group goes through a paced
outbox (Telegram allows about 20 messages a minute into one group), waiting out 429s.
Rendering is `StaffCards`, error classification `staff_errors`, pacing `PacedOutbox`.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError
from aiogram.types import InlineKeyboardMarkup, ReplyParameters
from aiogram.types import Message as TgMessage

from supportbot.desk.models import Message, Place, Ticket
from supportbot.desk.ports import StaffUnavailableError, TopicLostError
from supportbot.domain.models import Article, CannedReply, Lang
from supportbot.telegram import staff_keyboards as keyboards
from supportbot.telegram.cards import StaffCards, cut
from supportbot.telegram.membership import can_manage_topics, is_admin
from supportbot.telegram.outbox import PacedOutbox
from supportbot.telegram.render import article_blocks, split_html
from supportbot.telegram.staff_errors import guard

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TelegramStaffDesk:
    """`StaffNotifier` for a Telegram staff group (forum topics or reply mode)."""

    def __init__(
        self,
        bot: Bot,
        staff_chat_id: int,
        cards: StaffCards,
        *,
        forum: bool | None = None,
        per_minute: int = 20,
    ) -> None:
        self.bot = bot
        self.chat_id = staff_chat_id
        self.cards = cards
        self.texts = cards.texts
        self._forum = forum
        self.outbox = PacedOutbox(per_minute)
        # What each card shows, as last sent: an edit that changes nothing is not sent.
        self._cards_shown: dict[int, tuple[str, str]] = {}

    async def is_forum(self) -> bool:
        """Whether the staff group is a forum (asked once, then remembered)."""
        if self._forum is None:
            chat = await guard(lambda: self.bot.get_chat(self.chat_id))
            self._forum = bool(chat.is_forum)
            logger.info(
                "staff group %d: %s mode", self.chat_id, "forum" if self._forum else "reply"
            )
        return self._forum

    async def check(self) -> bool:
        """Log how the staff group is set up and what the bot lacks there; never raises.

        False when the group cannot be reached: tickets then wait in the queue and their
        cards are posted once it can (the desk retries).
        """
        try:
            forum = await self.is_forum()
            me = await self.bot.me()
            member = await guard(lambda: self.bot.get_chat_member(self.chat_id, me.id))
        except (StaffUnavailableError, TelegramBadRequest, TelegramNetworkError) as error:
            logger.error(
                "staff group %d cannot be reached (%s): add the bot to the group and make it "
                "an administrator; tickets wait in the queue meanwhile",
                self.chat_id,
                error,
            )
            return False
        if not is_admin(member):
            logger.warning(
                "the bot is not an administrator of the staff group %d: make it one%s",
                self.chat_id,
                " with the right to manage topics" if forum else "",
            )
        elif forum and not can_manage_topics(member):
            logger.warning(
                "the bot cannot manage topics in the staff group %d: give it that right, "
                "or tickets cannot get their own topics",
                self.chat_id,
            )
        return True

    # --- StaffNotifier -----------------------------------------------------------------

    async def open_ticket(
        self, ticket: Ticket, keep_topic: Callable[[int], Awaitable[None]]
    ) -> Place:
        """The card in the ticket's topic (forum: adopted when it has one, else made and
        kept first), or just the card (reply mode)."""
        if not await self.is_forum():
            return Place(None, await self._post_card(ticket, None))
        if ticket.topic_id is not None:
            try:
                return Place(ticket.topic_id, await self._post_card(ticket, ticket.topic_id))
            except TopicLostError:
                logger.info("ticket %d: its topic is gone; making a new one", ticket.id)
        name = self.cards.topic_name(ticket)
        topic = await self._paced(lambda: self.bot.create_forum_topic(self.chat_id, name))
        await keep_topic(topic.message_thread_id)
        return Place(
            topic.message_thread_id, await self._post_card(ticket, topic.message_thread_id)
        )

    async def _post_card(self, ticket: Ticket, topic_id: int | None) -> int:
        text, markup = self.cards.card(ticket)
        card = await self._paced(
            lambda: self.bot.send_message(
                self.chat_id, text, message_thread_id=topic_id, reply_markup=markup
            )
        )
        self._remember_card(card.message_id, _shown(text, markup))
        return card.message_id

    def _remember_card(self, card_id: int, shown: tuple[str, str]) -> None:
        self._cards_shown[card_id] = shown
        while len(self._cards_shown) > 1000:
            del self._cards_shown[next(iter(self._cards_shown))]

    async def update_card(self, ticket: Ticket) -> None:
        """Edit the card in place (status, buttons)."""
        if ticket.card_message_id is None:
            return
        card_id = ticket.card_message_id
        text, markup = self.cards.card(ticket)
        shown = _shown(text, markup)
        if self._cards_shown.get(card_id) == shown:
            return  # Telegram refuses an edit that changes nothing
        self._remember_card(card_id, shown)

        async def edit() -> None:
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=self.chat_id, message_id=card_id, reply_markup=markup
                )
            except TelegramBadRequest as error:
                if "not modified" not in str(error).lower():
                    self._cards_shown.pop(card_id, None)
                    raise
            except Exception:
                self._cards_shown.pop(card_id, None)
                raise

        self.outbox.post(lambda: guard(edit))

    async def to_staff(self, ticket: Ticket, message: Message) -> None:
        """A notice in the ticket's topic or under its card."""
        text = self.cards.staff_notice(message)
        await self._paced(lambda: self.bot.send_message(self.chat_id, text, **self._at(ticket)))

    async def to_user(
        self, ticket: Ticket | None, user_id: int, lang: Lang, message: Message
    ) -> None:
        """A notice in the user's private chat, with its buttons."""
        text, markup = self.cards.user_notice(lang, message)
        try:
            await self.bot.send_message(user_id, text, reply_markup=markup)
        except TelegramForbiddenError:
            logger.info("user %d blocked the bot: desk notice not sent", user_id)

    async def copy_to_staff(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        """Copy user messages into the ticket (in order); an album stays an album in a topic
        (in reply mode each part answers the card, so operators can reply to any of them)."""
        if len(message_ids) > 1 and ticket.topic_id is not None:
            topic_id = ticket.topic_id
            ids = sorted(message_ids)
            copied = await self._paced(
                lambda: self.bot.copy_messages(
                    self.chat_id, ticket.user_id, ids, message_thread_id=topic_id
                )
            )
            return [c.message_id for c in copied]
        copies: list[int] = []
        for message_id in message_ids:
            copy = await self._paced(
                lambda mid=message_id: self.bot.copy_message(  # type: ignore[misc]
                    self.chat_id, ticket.user_id, mid, **self._at(ticket)
                )
            )
            copies.append(copy.message_id)
        return copies

    async def copy_to_user(self, ticket: Ticket, message_ids: Sequence[int]) -> list[int]:
        """Copy operator messages to the user; empty when the user blocked the bot."""
        copies: list[int] = []
        try:
            if len(message_ids) > 1:  # an album stays an album
                copied = await self.bot.copy_messages(
                    ticket.user_id, self.chat_id, sorted(message_ids)
                )
                return [c.message_id for c in copied]
            for message_id in message_ids:
                copy = await self.bot.copy_message(ticket.user_id, self.chat_id, message_id)
                copies.append(copy.message_id)
        except TelegramForbiddenError:
            logger.info("user %d blocked the bot: operator message not delivered", ticket.user_id)
        return copies

    async def send_to_user(self, ticket: Ticket, text: str) -> int:
        """A canned reply, as plain text."""
        sent = await self.bot.send_message(ticket.user_id, html.escape(text))
        await self._echo(ticket, text)
        return sent.message_id

    async def send_article(self, ticket: Ticket, article: Article) -> int:
        """An article, rendered as the bot renders answers."""
        first: int | None = None
        for part in split_html(article_blocks(article, inline_steps=True)):
            sent = await self.bot.send_message(ticket.user_id, part)
            first = first or sent.message_id
        await self._echo(ticket, f"📄 {article.title}")
        return first or 0

    async def post_assist(
        self, ticket: Ticket, articles: Sequence[Article], canned: Sequence[CannedReply]
    ) -> None:
        """Suggestions under the user's message, sent quietly; one tap sends one."""
        markup = keyboards.assist(ticket.id, articles, canned, self.texts)
        title = self.texts.staff("assist_title")
        where = self._at(ticket)
        self.outbox.post(
            lambda: guard(
                lambda: self.bot.send_message(
                    self.chat_id,
                    title,
                    reply_markup=markup,
                    disable_notification=True,
                    **where,
                )
            )
        )

    async def set_topic_open(self, ticket: Ticket, is_open: bool) -> None:
        """Close or reopen the ticket's topic (forum mode)."""
        topic_id = ticket.topic_id
        if topic_id is None:
            return

        async def toggle() -> None:
            try:
                if is_open:
                    await self.bot.reopen_forum_topic(self.chat_id, topic_id)
                else:
                    await self.bot.close_forum_topic(self.chat_id, topic_id)
            except TelegramBadRequest as error:
                if "not_modified" not in str(error).lower():
                    raise

        await self._paced(toggle)

    # --- edits ---------------------------------------------------------------------------

    async def edit_copy(self, chat_id: int, message_id: int, source: TgMessage) -> None:
        """Relay an edit where Telegram allows it (text and captions)."""
        try:
            if source.text is not None:
                await self.bot.edit_message_text(
                    text=source.html_text, chat_id=chat_id, message_id=message_id
                )
            elif source.caption is not None:
                await self.bot.edit_message_caption(
                    chat_id=chat_id, message_id=message_id, caption=source.html_text
                )
        except TelegramBadRequest as error:
            logger.info("edit not relayed: %s", error)
        except TelegramForbiddenError:
            logger.info("edit not relayed: chat %d blocked the bot", chat_id)

    # --- plumbing ------------------------------------------------------------------------

    def _at(self, ticket: Ticket) -> dict[str, Any]:
        """Where a message about the ticket goes: its topic, or a reply to its card."""
        if ticket.topic_id is not None:
            return {"message_thread_id": ticket.topic_id}
        if ticket.card_message_id is not None:
            return {"reply_parameters": ReplyParameters(message_id=ticket.card_message_id)}
        return {}

    async def _echo(self, ticket: Ticket, text: str) -> None:
        """Show the staff what was sent on their behalf."""
        shown = f"➡️ {html.escape(cut(text, 3500))}"
        where = self._at(ticket)
        self.outbox.post(
            lambda: guard(
                lambda: self.bot.send_message(
                    self.chat_id, shown, disable_notification=True, **where
                )
            )
        )

    async def _paced(self, send: Callable[[], Awaitable[T]]) -> T:
        return await self.outbox.call(lambda: guard(send))


def _shown(text: str, markup: InlineKeyboardMarkup | None) -> tuple[str, str]:
    return text, markup.model_dump_json(exclude_none=True) if markup is not None else ""
