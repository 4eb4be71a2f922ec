"""The user side in private chats: commands, questions, media and buttons, all thin."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, CommandObject, CommandStart, Filter
from aiogram.types import CallbackQuery, Message, User

from supportbot.conversation.engine import Conversation
from supportbot.conversation.replies import Reply, UserInfo
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.models import Lang
from supportbot.telegram.callbacks import ButtonData
from supportbot.telegram.middlewares import FloodVerdict, PromptAnswers
from supportbot.telegram.render import Rendered, Renderer
from supportbot.telegram.texts import Texts

logger = logging.getLogger(__name__)


def user_info(user: User) -> UserInfo:
    """The plain values the engine needs about a Telegram user."""
    return UserInfo(
        user_id=user.id,
        first_name=user.first_name,
        username=user.username,
        language_code=user.language_code,
    )


async def deliver(
    bot: Bot, chat_id: int, messages: Sequence[Rendered], conversation: Conversation
) -> None:
    """Send rendered messages in order; stop (and remember) if the user blocked the bot."""
    for item in messages:
        try:
            await bot.send_message(chat_id, item.text, reply_markup=item.markup)
        except TelegramForbiddenError:
            # The rest would fail the same way.
            logger.info("user %d blocked the bot: %d message(s) not sent", chat_id, len(messages))
            await conversation.mark_blocked(chat_id)
            return


def get_flood_router() -> Router:
    """The one notice to a user who writes faster than the flood limit allows (include it
    before every other message router: a flooded message is for it alone)."""
    router = Router(name=f"{__name__}.flood")

    @router.message(Flooded())
    async def on_flood(
        message: Message, flood: FloodVerdict, conversation: Conversation, texts: Texts
    ) -> None:
        """Slow down, please: the message was not handled."""
        user = _user(message)
        lang = await conversation.language(UserInfo(user.id, language_code=user.language_code))
        seconds = max(1, round(flood.retry_after_s))
        await message.answer(texts.message(lang, "flood", seconds=seconds))

    return router


class Flooded(Filter):
    """The flood middleware let this message through only to say "slow down"."""

    async def __call__(self, message: Message, flood: FloodVerdict | None = None) -> bool:
        return flood is not None


def get_router() -> Router:
    """A fresh user router (a router can belong to one dispatcher only)."""
    router = Router(name=__name__)
    router.message.filter(F.chat.type == ChatType.PRIVATE, F.from_user)
    router.callback_query.filter(F.from_user)

    @router.message(CommandStart())
    async def on_start(message: Message, conversation: Conversation, renderer: Renderer) -> None:
        """/start: greeting and what the bot can do."""
        reply = await conversation.start(user_info(_user(message)))
        await _reply(message, reply, renderer, conversation)

    @router.message(Command("help"))
    async def on_help(message: Message, conversation: Conversation, renderer: Renderer) -> None:
        """/help: what the bot can do."""
        reply = await conversation.help(user_info(_user(message)))
        await _reply(message, reply, renderer, conversation)

    @router.message(Command("lang"))
    async def on_lang(
        message: Message,
        command: CommandObject,
        conversation: Conversation,
        renderer: Renderer,
    ) -> None:
        """/lang [ru|en]: switch the language (toggle without an argument)."""
        arg = (command.args or "").strip().lower()
        lang = Lang(arg) if arg in {"ru", "en"} else None
        reply = await conversation.set_language(user_info(_user(message)), lang)
        await _reply(message, reply, renderer, conversation)

    @router.message(Command("operator"))
    async def on_operator(
        message: Message, conversation: Conversation, renderer: Renderer
    ) -> None:
        """/operator: talk to a person."""
        reply = await conversation.ask_person(user_info(_user(message)))
        await _reply(message, reply, renderer, conversation)

    @router.message(F.text)
    async def on_text(message: Message, conversation: Conversation, renderer: Renderer) -> None:
        """Free text: a question, or a message for the operator in charge."""
        reply = await conversation.handle_text(
            user_info(_user(message)), message.text or "", [message.message_id]
        )
        await _reply(message, reply, renderer, conversation)

    @router.message()
    async def on_other(
        message: Message,
        conversation: Conversation,
        renderer: Renderer,
        album: list[Message] | None = None,
    ) -> None:
        """Photo, voice, sticker, document, an album, anything else: the caption is the
        question."""
        parts = album or [message]
        caption = next((m.caption for m in parts if m.caption), None)
        ids = [m.message_id for m in parts]
        reply = await conversation.handle_media(user_info(_user(message)), caption, ids)
        await _reply(message, reply, renderer, conversation)

    @router.callback_query(ButtonData.filter())
    async def on_button(
        query: CallbackQuery,
        callback_data: ButtonData,
        conversation: Conversation,
        renderer: Renderer,
        prompt_answers: PromptAnswers,
    ) -> None:
        """An inline button of ours."""
        try:
            press = callback_data.press()
        except ValueError as error:
            raise StaleCallbackError("unknown action") from error
        reply = await conversation.press(user_info(query.from_user), press)
        if not prompt_answers.answered_early(query.id):
            await query.answer()
        rendered = renderer.render(reply, name=query.from_user.first_name)
        await deliver(_bot(query), query.from_user.id, rendered, conversation)

    @router.callback_query()
    async def on_unknown_button(query: CallbackQuery) -> None:
        """Callback data we cannot read: forged, or from an older version of the bot."""
        raise StaleCallbackError("unreadable callback data")

    return router


def _user(message: Message) -> User:
    if message.from_user is None:  # excluded by the router filter
        raise RuntimeError("message without a sender")
    return message.from_user


def _bot(event: Message | CallbackQuery) -> Bot:
    if event.bot is None:
        raise RuntimeError("event is not bound to a bot")
    return event.bot


async def _reply(
    message: Message, reply: Reply, renderer: Renderer, conversation: Conversation
) -> None:
    rendered = renderer.render(reply, name=_user(message).first_name)
    await deliver(_bot(message), message.chat.id, rendered, conversation)
