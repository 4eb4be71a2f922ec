"""The one error path: domain errors become their user text; anything else is logged."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent, Message, User

from supportbot.conversation.engine import Conversation
from supportbot.conversation.replies import UserInfo
from supportbot.domain.errors import StaleCallbackError, SupportBotError
from supportbot.domain.models import Lang
from supportbot.telegram.middlewares import PromptAnswers
from supportbot.telegram.texts import Texts

logger = logging.getLogger(__name__)


async def _lang(user: User | None, conversation: Conversation) -> Lang:
    if user is None:
        return Lang.EN
    return await conversation.language(UserInfo(user.id, language_code=user.language_code))


async def _tell(event: ErrorEvent, text: str, prompt: PromptAnswers) -> None:
    """Answer the update that failed, as best we can; never raise from here. A press that
    was answered already (its work was slow) gets the text as a message in its chat."""
    update = event.update
    try:
        query = update.callback_query
        if query is not None and prompt.answered_early(query.id):
            if isinstance(query.message, Message):
                await query.message.answer(text)
        elif query is not None:
            await query.answer(text)
        elif update.message is not None:
            await update.message.answer(text)
    except TelegramAPIError as error:
        logger.warning("update %d: could not tell the user: %s", update.update_id, error)


def get_router() -> Router:
    """A fresh error router."""
    router = Router(name=__name__)

    @router.error(ExceptionTypeFilter(StaleCallbackError))
    async def on_stale(
        event: ErrorEvent, conversation: Conversation, texts: Texts, prompt_answers: PromptAnswers
    ) -> None:
        """A button that no longer fits the conversation: a polite notice, no traceback."""
        query = event.update.callback_query
        logger.info("update %d: stale button (%s)", event.update.update_id, event.exception)
        lang = await _lang(query.from_user if query else None, conversation)
        await _tell(event, texts.message(lang, "stale"), prompt_answers)

    @router.error(ExceptionTypeFilter(SupportBotError))
    async def on_domain_error(event: ErrorEvent, prompt_answers: PromptAnswers) -> None:
        """A domain error carries the text for the user."""
        error = event.exception
        logger.info("update %d: %s", event.update.update_id, error)
        if isinstance(error, SupportBotError):
            await _tell(event, error.user_message, prompt_answers)

    @router.error(F.update)
    async def on_unexpected(
        event: ErrorEvent, conversation: Conversation, texts: Texts, prompt_answers: PromptAnswers
    ) -> None:
        """A bug or an outage: log it with the update id, apologise, keep running."""
        update = event.update
        logger.error("update %d failed", update.update_id, exc_info=event.exception)
        user = None
        if update.callback_query is not None:
            user = update.callback_query.from_user
        elif update.message is not None:
            user = update.message.from_user
        try:
            lang = await _lang(user, conversation)
        except Exception:  # the failure may be the storage itself
            logger.exception("update %d: cannot read the user's language", update.update_id)
            lang = Lang.EN
        await _tell(event, texts.message(lang, "error"), prompt_answers)

    return router
