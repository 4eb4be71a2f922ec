"""aiogram's errors from the staff group, classified as the desk's errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from supportbot.desk.ports import StaffUnavailableError, TopicLostError

T = TypeVar("T")

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


def translate(error: Exception) -> Exception:
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


async def guard(send: Callable[[], Awaitable[T]]) -> T:
    """Run `send`; a lost topic raises `TopicLostError`, an unreachable group
    `StaffUnavailableError`; 429s and other errors pass through unchanged."""
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
        translated = translate(error)
        if translated is error:
            raise
        raise translated from error
