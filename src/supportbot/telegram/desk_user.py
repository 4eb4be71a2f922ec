"""The desk's part of private chats: banned users, /close, rating buttons and comments, edits.

`get_desk_user_router()` takes private-chat updates that belong to the desk and lets
everything else fall through to the user router (include it before that one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, Filter
from aiogram.types import CallbackQuery, Message, User

from supportbot.conversation.engine import Conversation
from supportbot.conversation.replies import UserInfo
from supportbot.desk.errors import DeskRefusal
from supportbot.desk.service import DeskService
from supportbot.domain.errors import StaleCallbackError
from supportbot.telegram.callbacks import UserAction, UserDeskData
from supportbot.telegram.middlewares import AnswerOnce, ErrorsAnsweredByErrorRouter
from supportbot.telegram.staff_desk import TelegramStaffDesk
from supportbot.telegram.texts import Texts


class BannedUser(Filter):
    """A private message or button of a banned user."""

    async def __call__(self, event: Message | CallbackQuery, desk: DeskService) -> bool:
        user = event.from_user
        return user is not None and desk.bans.is_banned(user.id)


class AwaitingComment(Filter):
    """The user's next text is the comment to their rating."""

    async def __call__(self, message: Message, desk: DeskService) -> bool:
        user = message.from_user
        text = message.text or ""
        return (
            user is not None and not text.startswith("/") and desk.feedback.awaits_comment(user.id)
        )


class HasOpenTicket(Filter):
    """The user has an open ticket."""

    async def __call__(self, message: Message, desk: DeskService) -> bool:
        user = message.from_user
        return user is not None and await desk.open_ticket(user.id) is not None


def get_desk_user_router() -> Router:
    """The desk's part of private chats; include it before the user router."""
    router = Router(name=f"{__name__}.user")
    router.message.filter(F.chat.type == ChatType.PRIVATE, F.from_user)
    router.edited_message.filter(F.chat.type == ChatType.PRIVATE, F.from_user)
    router.callback_query.filter(F.from_user)
    router.callback_query.middleware(AnswerOnce())
    router.callback_query.middleware(ErrorsAnsweredByErrorRouter())

    @router.message(BannedUser())
    async def on_banned(
        message: Message, desk: DeskService, conversation: Conversation, texts: Texts
    ) -> None:
        """A banned user: one polite notice, then silence; nothing reaches the staff."""
        user = _sender(message)
        if await desk.bans.take_notice(user.id):
            lang = await conversation.language(UserInfo(user.id, language_code=user.language_code))
            await message.answer(texts.user(lang, "banned"))

    @router.callback_query(BannedUser())
    async def on_banned_button(query: CallbackQuery) -> None:
        """A banned user's button: acknowledged (by the answer middleware), ignored."""

    @router.message(Command("close"), HasOpenTicket())
    async def on_close(message: Message, desk: DeskService) -> None:
        """/close: the user closes their ticket (the desk asks for a rating)."""
        await desk.close_by_user(_sender(message).id, solved=None)

    @router.message(F.text, AwaitingComment())
    async def on_comment(message: Message, desk: DeskService) -> None:
        """The comment after a rating."""
        await desk.feedback.add_comment(_sender(message).id, message.text or "")

    @router.edited_message()
    async def on_user_edit(
        message: Message, desk: DeskService, staff_desk: TelegramStaffDesk
    ) -> None:
        """The user edited a relayed message: edit the staff's copy."""
        found = await desk.edited_by_user(_sender(message).id, message.message_id)
        if found is not None:
            _, copy_id = found
            await staff_desk.edit_copy(staff_desk.chat_id, copy_id, message)

    @router.callback_query(UserDeskData.filter(F.action == UserAction.SOLVED))
    async def on_solved(query: CallbackQuery, desk: DeskService, bot: Bot) -> None:
        """ "My problem is solved": the user closes their ticket."""
        await _buttons_used(query, bot)
        await desk.close_by_user(query.from_user.id)

    @router.callback_query(UserDeskData.filter(F.action == UserAction.FCR))
    async def on_fcr(
        query: CallbackQuery, callback_data: UserDeskData, desk: DeskService, bot: Bot
    ) -> None:
        """ "Was your problem solved?" yes / no."""
        await _buttons_used(query, bot)
        async with _stale_when_refused():
            await desk.feedback.answer_fcr(
                callback_data.ticket, query.from_user.id, bool(callback_data.value)
            )

    @router.callback_query(UserDeskData.filter(F.action == UserAction.RATE))
    async def on_rate(
        query: CallbackQuery, callback_data: UserDeskData, desk: DeskService, bot: Bot
    ) -> None:
        """The 1-5 rating."""
        await _buttons_used(query, bot)
        async with _stale_when_refused():
            await desk.feedback.rate(callback_data.ticket, query.from_user.id, callback_data.value)

    @router.callback_query(F.data.startswith(f"{UserDeskData.__prefix__}:"))
    async def on_unknown(query: CallbackQuery) -> None:
        """A desk button this version does not know."""
        raise StaleCallbackError("unknown desk button")

    return router


async def _buttons_used(query: CallbackQuery, bot: Bot) -> None:
    """The buttons do their job once: remove them before anything else is sent."""
    if not isinstance(query.message, Message) or query.message.reply_markup is None:
        return  # removed already by a first tap: the desk refuses the repeat
    try:
        await bot.edit_message_reply_markup(
            chat_id=query.message.chat.id, message_id=query.message.message_id
        )
    except TelegramBadRequest as error:
        if "not modified" not in str(error).lower():
            raise
        # Removed already by a first tap: the desk refuses the repeat.


@asynccontextmanager
async def _stale_when_refused() -> AsyncIterator[None]:
    """A refused press (a second tap) is an out-of-date button to the user."""
    try:
        yield
    except DeskRefusal as refusal:
        raise StaleCallbackError(refusal.code) from refusal


def _sender(message: Message) -> User:
    if message.from_user is None:  # excluded by the router filters
        raise RuntimeError("message without a sender")
    return message.from_user
