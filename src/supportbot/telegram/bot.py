"""Builds the Bot (session with Telegram's limits) and the Dispatcher with its routers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, Update

from supportbot.conversation.engine import Conversation
from supportbot.domain.models import Lang
from supportbot.telegram import errors, user
from supportbot.telegram.middlewares import (
    AlbumMiddleware,
    FloodControl,
    FloodMiddleware,
    InFlight,
    PromptAnswers,
    TelegramLimits,
)
from supportbot.telegram.render import Renderer
from supportbot.telegram.texts import Texts

MENU_COMMANDS = ("start", "help", "operator", "lang")


def build_bot(
    token: str,
    api_base: str = "https://api.telegram.org",
    *,
    max_retry_wait_s: float = math.inf,
) -> Bot:
    """A Bot whose session waits out 429s and retries outages (`TelegramLimits`).

    Every message is Telegram HTML (texts are escaped where they are filled in).
    """
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_base))
    session.middleware(TelegramLimits(max_wait_s=max_retry_wait_s))
    return Bot(
        token,
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


class SupportDispatcher(Dispatcher):
    """A Dispatcher that counts the updates in flight, from arrival to the last error handler.

    A middleware cannot do this: aiogram's own error middleware sits outside all of ours.
    """

    def __init__(self, *, in_flight: InFlight, **workflow_data: Any) -> None:
        super().__init__(**workflow_data)
        self.in_flight = in_flight

    async def feed_update(self, bot: Bot, update: Update, **kwargs: Any) -> Any:
        """Handle one update, counted."""
        with self.in_flight.track(update.update_id):
            return await super().feed_update(bot, update, **kwargs)


def build_dispatcher(
    *,
    conversation: Conversation,
    texts: Texts,
    flood: FloodControl,
    extra_routers: Sequence[Router] = (),
    in_flight: InFlight | None = None,
) -> SupportDispatcher:
    """The Dispatcher: services as workflow data, flood control, the error and user routers.

    `extra_routers` (the desk's staff router) come before the user router; they filter their
    own chats, the user router takes private chats only.
    """
    dp = SupportDispatcher(
        in_flight=in_flight or InFlight(),
        conversation=conversation,
        texts=texts,
        renderer=Renderer(texts),
        prompt_answers=(prompt := PromptAnswers()),
    )
    # A press is answered within half a second, however long its work takes.
    dp.callback_query.outer_middleware(prompt)
    # An album counts as one message against the flood limit.
    dp.message.outer_middleware(AlbumMiddleware())
    dp.message.outer_middleware(FloodMiddleware(flood))
    dp.include_router(errors.get_router())
    dp.include_router(user.get_flood_router())
    for router in extra_routers:
        dp.include_router(router)
    dp.include_router(user.get_router())
    return dp


async def register_commands(bot: Bot, texts: Texts) -> None:
    """The menu commands in both languages (English for everyone else)."""
    scope = BotCommandScopeAllPrivateChats()
    for lang in Lang:
        names = texts.commands(lang)
        commands = [BotCommand(command=c, description=names[c]) for c in MENU_COMMANDS]
        await bot.set_my_commands(
            commands, scope=scope, language_code=None if lang is Lang.EN else lang.value
        )
