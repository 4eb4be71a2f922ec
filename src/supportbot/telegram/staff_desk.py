"""`TelegramStaffDesk`: the desk's `StaffNotifier` over an aiogram Bot and a staff group.

Forum groups get one topic per ticket; other groups use reply mode (the bot's card of the
ticket, and operators reply to it). Everything sent into the group goes through a paced
outbox (Telegram allows about 20 messages a minute into one group), waiting out 429s.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyParameters,
)
from aiogram.types import (
    Message as TgMessage,
)

from supportbot.desk.models import Message, Notice, Place, Ticket, TicketStatus, short_key
from supportbot.desk.ports import ArticleSource, StaffUnavailableError, TopicLostError
from supportbot.desk.service import DeskService
from supportbot.domain.handoff import Author
from supportbot.domain.models import Article, CannedReply, Lang
from supportbot.telegram.render import article_blocks, split_html
from supportbot.telegram.staff_texts import StaffTexts

logger = logging.getLogger(__name__)

T = TypeVar("T")

TELEGRAM_LIMIT = 4096
_LOST = (
    "thread not found",
    "topic_id_invalid",
    "topic_deleted",
    "message to be replied not found",
    "message to edit not found",
    "message_id_invalid",
    "replied message not found",
)
_UNREACHABLE = ("chat not found", "not enough rights", "have no rights", "chat_write_forbidden")


class DeskData(CallbackData, prefix="k"):
    """Staff buttons: `k:<action>:<ticket>:<value>` (far below 64 bytes)."""

    a: str
    t: int
    v: str = ""


class UserDeskData(CallbackData, prefix="u"):
    """The user's desk buttons: solved, FCR yes/no, rating."""

    a: str
    t: int
    v: int = 0


class PacedOutbox:
    """Sends into one group one at a time, at most `per_minute` a minute, waiting out 429s.

    `call` waits for the result; `post` does not (agent assist, notices). The worker is
    `run()`, owned by the caller's TaskGroup (or `running()` for a scoped one).
    """

    def __init__(
        self,
        per_minute: int = 20,
        *,
        window_s: float = 60.0,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._per_window = per_minute
        self._window = window_s
        self._max_attempts = max_attempts
        self._clock = clock
        self._sent: deque[float] = deque()
        self._not_before = 0.0
        self._queue: asyncio.Queue[
            tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any] | None]
        ] = asyncio.Queue()
        self._running = False
        self.sent = 0

    async def call(self, send: Callable[[], Awaitable[T]]) -> T:
        """Queue `send` and wait for its result (or its exception)."""
        if not self._running:
            # No worker (a CLI, a test without one): send right away, still paced.
            return await self._send(send)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((send, future))
        return await future

    def post(self, send: Callable[[], Awaitable[Any]]) -> None:
        """Queue `send` without waiting; failures are logged by the worker."""
        self._queue.put_nowait((send, None))

    async def run(self) -> None:
        """The worker, until cancelled: what is still queued then is dropped (callers drain
        the outbox first; waiting callers see their call cancelled).

        429s the session's own limits middleware gives up on (long waits) are retried here,
        and later sends wait them out too."""
        self._running = True
        try:
            while True:
                send, future = await self._queue.get()
                try:
                    await self._one(send, future)
                finally:
                    self._queue.task_done()
        finally:
            self._running = False
            while not self._queue.empty():
                send, future = self._queue.get_nowait()
                self._queue.task_done()
                if future is not None and not future.done():
                    future.cancel()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PacedOutbox]:
        """Run the worker for the body of the `async with`, draining it at the end."""
        worker = asyncio.create_task(self.run())
        try:
            yield self
            await self.drain()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until everything queued so far was sent."""
        await self._queue.join()

    async def _one(
        self, send: Callable[[], Awaitable[Any]], future: asyncio.Future[Any] | None
    ) -> None:
        try:
            result = await self._send(send)
        except Exception as error:
            if future is None:
                if isinstance(error, StaffUnavailableError | TopicLostError):
                    logger.warning("staff group: a queued message was not sent: %s", error)
                else:
                    logger.exception("staff group: a queued message failed")
            elif not future.done():
                future.set_exception(error)
        else:
            if future is not None and not future.done():
                future.set_result(result)

    async def _send(self, send: Callable[[], Awaitable[T]]) -> T:
        attempt = 1
        while True:
            await self._slot()
            try:
                return await send()
            except TelegramRetryAfter as error:
                self._not_before = self._clock() + error.retry_after
                if attempt >= self._max_attempts:
                    raise
                logger.warning("staff group: 429, waiting %ss", error.retry_after)
                attempt += 1

    async def _slot(self) -> None:
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= self._window:
                self._sent.popleft()
            wait = self._not_before - now
            if len(self._sent) >= self._per_window:
                wait = max(wait, self._sent[0] + self._window - now)
            if wait <= 0:
                self._sent.append(now)
                self.sent += 1
                return
            await asyncio.sleep(wait)


def _translate(error: Exception) -> Exception:
    """aiogram's errors from the staff group as the desk's errors."""
    text = str(error).lower()
    if isinstance(error, TelegramForbiddenError):
        return StaffUnavailableError(str(error))
    if isinstance(error, TelegramBadRequest):
        if any(marker in text for marker in _LOST):
            return TopicLostError(str(error))
        if any(marker in text for marker in _UNREACHABLE):
            return StaffUnavailableError(str(error))
    if isinstance(error, TelegramNetworkError | TelegramServerError):
        return StaffUnavailableError(str(error))
    return error


class TelegramStaffDesk:
    """`StaffNotifier` for a Telegram staff group (forum topics or reply mode)."""

    def __init__(
        self,
        bot: Bot,
        staff_chat_id: int,
        texts: StaffTexts,
        knowledge: ArticleSource,
        *,
        forum: bool | None = None,
        per_minute: int = 20,
    ) -> None:
        self.bot = bot
        self.chat_id = staff_chat_id
        self.texts = texts
        self._knowledge = knowledge
        self._forum = forum
        self.outbox = PacedOutbox(per_minute)
        # Operators' names for the cards: bound to `DeskService.operator_name` once the
        # service exists (it is built over this notifier).
        self.names: Callable[[int], str | None] = lambda _operator_id: None

    async def is_forum(self) -> bool:
        """Whether the staff group is a forum (asked once, then remembered)."""
        if self._forum is None:
            chat = await self._guard(lambda: self.bot.get_chat(self.chat_id))
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
            member = await self._guard(lambda: self.bot.get_chat_member(self.chat_id, me.id))
        except (StaffUnavailableError, TelegramBadRequest, TelegramNetworkError) as error:
            logger.error(
                "staff group %d cannot be reached (%s): add the bot to the group and make it "
                "an administrator; tickets wait in the queue meanwhile",
                self.chat_id,
                error,
            )
            return False
        status = str(getattr(member.status, "value", member.status))
        if status not in {"administrator", "creator"}:
            logger.warning(
                "the bot is not an administrator of the staff group %d: make it one%s",
                self.chat_id,
                " with the right to manage topics" if forum else "",
            )
        elif forum and not getattr(member, "can_manage_topics", False) and status != "creator":
            logger.warning(
                "the bot cannot manage topics in the staff group %d: give it that right, "
                "or tickets cannot get their own topics",
                self.chat_id,
            )
        return True

    # --- StaffNotifier -----------------------------------------------------------------

    async def open_ticket(self, ticket: Ticket) -> Place:
        """A new topic (forum) with the card in it, or just the card (reply mode)."""
        topic_id: int | None = None
        if await self.is_forum():
            name = self._topic_name(ticket)
            topic = await self._paced(lambda: self.bot.create_forum_topic(self.chat_id, name))
            topic_id = topic.message_thread_id
        text, markup = self.card(ticket)
        card = await self._paced(
            lambda: self.bot.send_message(
                self.chat_id, text, message_thread_id=topic_id, reply_markup=markup
            )
        )
        return Place(topic_id, card.message_id)

    async def update_card(self, ticket: Ticket) -> None:
        """Edit the card in place (status, buttons)."""
        if ticket.card_message_id is None:
            return
        card_id = ticket.card_message_id
        text, markup = self.card(ticket)

        async def edit() -> None:
            try:
                await self.bot.edit_message_text(
                    text=text, chat_id=self.chat_id, message_id=card_id, reply_markup=markup
                )
            except TelegramBadRequest as error:
                if "not modified" not in str(error).lower():
                    raise

        self.outbox.post(lambda: self._guard(edit))

    async def to_staff(self, ticket: Ticket, message: Message) -> None:
        """A notice in the ticket's topic or under its card."""
        text = self.staff_notice(message)
        await self._paced(lambda: self.bot.send_message(self.chat_id, text, **self._at(ticket)))

    async def to_user(
        self, ticket: Ticket | None, user_id: int, lang: Lang, message: Message
    ) -> None:
        """A notice in the user's private chat, with its buttons."""
        text, markup = self.user_notice(lang, message)
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
        rows = [
            [
                InlineKeyboardButton(
                    text=self.texts.staff("assist_article", title=a.title)[:60],
                    callback_data=DeskData(a="ar", t=ticket.id, v=short_key(a.id)).pack(),
                )
            ]
            for a in articles
        ] + [
            [
                InlineKeyboardButton(
                    text=self.texts.staff("assist_canned", title=c.title)[:60],
                    callback_data=DeskData(a="cr", t=ticket.id, v=short_key(c.id)).pack(),
                )
            ]
            for c in canned
        ]
        markup = InlineKeyboardMarkup(inline_keyboard=rows)
        title = self.texts.staff("assist_title")
        where = self._at(ticket)
        self.outbox.post(
            lambda: self._guard(
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

    # --- rendering -----------------------------------------------------------------------

    def card(self, ticket: Ticket) -> tuple[str, InlineKeyboardMarkup | None]:
        """The ticket's card: who, what, the conversation so far, the guess; buttons."""
        t = self.texts
        if ticket.status is TicketStatus.QUEUED:
            status = t.staff("status_queued")
        elif ticket.status is TicketStatus.ASSIGNED:
            name = self.names(ticket.operator_id or 0) or str(ticket.operator_id)
            status = t.staff("status_assigned", operator=name)
        else:
            status = t.staff("status_closed")
        username = f" (@{ticket.username})" if ticket.username else ""
        head = [
            t.staff("card_title", id=ticket.id, status=status),
            t.staff(
                "user_line",
                name=ticket.user_name,
                username=username,
                lang=ticket.lang.value,
                user_id=ticket.user_id,
            ),
            t.staff("subject", subject=_cut(ticket.subject, 300)),
            t.staff("reason", reason=ticket.reason.replace("_", " ")),
        ]
        if ticket.suggested_category:
            head.append(t.staff("guess", category=ticket.suggested_category))
        article = self._knowledge.article(ticket.article_id) if ticket.article_id else None
        if article is not None and ticket.failed_step is not None:
            head.append(t.staff("failed_step", step=ticket.failed_step, title=article.title))
        elif article is not None:
            head.append(t.staff("article", title=article.title))
        if ticket.previous_id is not None:
            head.append(t.staff("previous", id=ticket.previous_id))
        if ticket.reopened:
            head.append(t.staff("reopened", times=ticket.reopened))
        if ticket.closed_at is not None and ticket.category:
            category = " / ".join(c for c in (ticket.category, ticket.subcategory) if c)
            head.append(t.staff("closed_line", by=ticket.closed_by or "", category=category))
        lines = []
        for entry in ticket.transcript:
            key = {
                Author.USER: "line_user",
                Author.BOT: "line_bot",
                Author.OPERATOR: "line_operator",
            }[entry.author]
            if entry.reaction in {"helpful", "not_helpful"}:
                shown = self._knowledge.article(entry.article_id) if entry.article_id else None
                line = t.staff(
                    f"reaction_{entry.reaction}", title=shown.title if shown else entry.article_id
                )
            else:
                line = t.staff(key, text=_cut(entry.text, 300))
            lines.append(line)
        text = "\n".join(head)
        if lines:
            body = "\n".join(lines)
            room = TELEGRAM_LIMIT - len(text) - 200
            while len(body) > room and lines:
                lines.pop(0)  # the oldest lines go first: the latest matter most
                body = "\n".join(["…", *lines])
            text += "\n\n" + t.staff("transcript") + "\n" + body
        return text, self._card_buttons(ticket)

    def _card_buttons(self, ticket: Ticket) -> InlineKeyboardMarkup | None:
        t = self.texts
        if ticket.status is TicketStatus.CLOSED:
            return None
        row = []
        if ticket.status is TicketStatus.QUEUED:
            row.append(_button(t.staff_button("take"), DeskData(a="tk", t=ticket.id)))
        row.append(_button(t.staff_button("close"), DeskData(a="cl", t=ticket.id)))
        if ticket.status is TicketStatus.ASSIGNED:
            row.append(_button(t.staff_button("transfer"), DeskData(a="tr", t=ticket.id)))
        return InlineKeyboardMarkup(inline_keyboard=[row])

    def staff_notice(self, message: Message) -> str:
        """A staff notice's text."""
        params = dict(message.params)
        if message.notice is Notice.STAFF_CLOSED:
            category = " / ".join(
                c for c in (params.get("category"), params.get("subcategory")) if c
            )
            params = {"category": category or self.texts.staff("category_none")}
        if message.notice is Notice.STAFF_RATED and params.get("comment"):
            params["comment"] = f"«{params['comment']}»"
        return self.texts.staff(message.notice.value, **params)

    def user_notice(self, lang: Lang, message: Message) -> tuple[str, InlineKeyboardMarkup | None]:
        """A user notice's text and buttons."""
        t = self.texts
        params = dict(message.params)
        ticket_id = int(params.pop("ticket_id", 0))
        markup: InlineKeyboardMarkup | None = None
        key = message.notice.value
        if message.notice is Notice.ASSIGNED:
            key = "assigned_named" if params.get("operator") else "assigned"
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [_button(t.button(lang, "solved"), UserDeskData(a="s", t=ticket_id))]
                ]
            )
        elif message.notice is Notice.CLOSED_ASK_FCR:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        _button(t.button(lang, "yes"), UserDeskData(a="f", t=ticket_id, v=1)),
                        _button(t.button(lang, "no"), UserDeskData(a="f", t=ticket_id, v=0)),
                    ]
                ]
            )
        elif message.notice is Notice.ASK_RATING:
            markup = InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        _button(str(score), UserDeskData(a="r", t=ticket_id, v=score))
                        for score in range(1, 6)
                    ]
                ]
            )
        return t.user(lang, key, **params), markup

    # --- plumbing ------------------------------------------------------------------------

    def _topic_name(self, ticket: Ticket) -> str:
        subject = " ".join(ticket.subject.split()) or "—"
        name = self.texts.staff_plain(
            "topic_name", id=ticket.id, name=ticket.user_name, subject=_cut(subject, 80)
        )
        return name[:128]

    def _at(self, ticket: Ticket) -> dict[str, Any]:
        """Where a message about the ticket goes: its topic, or a reply to its card."""
        if ticket.topic_id is not None:
            return {"message_thread_id": ticket.topic_id}
        if ticket.card_message_id is not None:
            return {"reply_parameters": ReplyParameters(message_id=ticket.card_message_id)}
        return {}

    async def _echo(self, ticket: Ticket, text: str) -> None:
        """Show the staff what was sent on their behalf."""
        shown = f"➡️ {html.escape(_cut(text, 3500))}"
        where = self._at(ticket)
        self.outbox.post(
            lambda: self._guard(
                lambda: self.bot.send_message(
                    self.chat_id, shown, disable_notification=True, **where
                )
            )
        )

    async def _paced(self, send: Callable[[], Awaitable[T]]) -> T:
        return await self.outbox.call(lambda: self._guard(send))

    @staticmethod
    async def _guard(send: Callable[[], Awaitable[T]]) -> T:
        try:
            return await send()
        except TelegramRetryAfter:
            raise
        except (
            TelegramForbiddenError,
            TelegramBadRequest,
            TelegramNetworkError,
            TelegramServerError,
        ) as error:
            translated = _translate(error)
            if translated is error:
                raise
            raise translated from error


class DeskRelay:
    """The user router's `MessageRelay`: a user's message for the operator of a ticket."""

    def __init__(self, desk: DeskService) -> None:
        self._desk = desk

    async def relay_to_operator(self, messages: Sequence[TgMessage], ticket_id: int) -> None:
        """Copy the message(s) into the ticket (agent assist follows)."""
        text = next((m.text or m.caption for m in messages if m.text or m.caption), None)
        ids = [m.message_id for m in messages]
        if not await self._desk.relay_from_user(ticket_id, ids, text):
            logger.warning("ticket %d: message(s) %s not relayed", ticket_id, ids)


class StaffMembership:
    """Who is a member of the staff group, asked from Telegram and remembered briefly."""

    def __init__(self, chat_id: int, ttl_s: float = 300.0) -> None:
        self.chat_id = chat_id
        self._ttl = ttl_s
        self._known: dict[int, tuple[bool, float]] = {}

    async def is_member(self, bot: Bot, user_id: int) -> bool:
        """True for the group's creator, administrators and members."""
        now = time.monotonic()
        cached = self._known.get(user_id)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            member = await bot.get_chat_member(self.chat_id, user_id)
        except TelegramBadRequest as error:
            logger.info("membership of %d unknown: %s", user_id, error)
            return False
        status = str(getattr(member.status, "value", member.status))
        allowed = status in {"creator", "administrator", "member"} or (
            status == "restricted" and bool(getattr(member, "is_member", False))
        )
        self._known[user_id] = (allowed, now)
        return allowed


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
