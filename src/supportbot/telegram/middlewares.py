"""Per-user flood control, in-flight update tracking, and Telegram's limits on outgoing calls."""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.callback_answer import CallbackAnswer, CallbackAnswerMiddleware

from supportbot.telegram.limits import SlidingWindow, retrying_429

logger = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class FloodVerdict:
    """Whether a message may be handled; `notify` once per flood episode."""

    allowed: bool
    notify: bool = False
    retry_after_s: float = 0.0


class FloodControl:
    """A sliding window per user: at most `messages` in `per_seconds`.

    Over the limit, messages are not handled until the window has room again; the user is
    told once per episode. Memory stays bounded: idle users are forgotten.
    """

    def __init__(
        self,
        messages: int,
        per_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limit = messages
        self._window = per_seconds
        self._clock = clock
        self._seen: dict[int, SlidingWindow] = {}
        self._notified: set[int] = set()

    def check(self, user_id: int) -> FloodVerdict:
        """Count one message of `user_id` and say whether to handle it."""
        window = self._seen.setdefault(user_id, SlidingWindow(self._limit, self._window))
        wait = window.take(self._clock())
        if wait <= 0:
            self._notified.discard(user_id)
            return FloodVerdict(True)
        notify = user_id not in self._notified
        self._notified.add(user_id)
        return FloodVerdict(False, notify, wait)

    def forget_idle(self) -> None:
        """Drop users whose window is empty (called now and then)."""
        now = self._clock()
        for user_id in [u for u, w in self._seen.items() if w.is_idle(now)]:
            del self._seen[user_id]
            self._notified.discard(user_id)


class FloodMiddleware(BaseMiddleware):
    """Outer message middleware: a user flooding their private chat with the bot is slowed
    down. It only decides: the first message over the limit goes on with the verdict as
    `flood` (for the flood router's one notice), the rest are dropped. Groups (the
    operators' staff group) are never throttled."""

    def __init__(self, flood: FloodControl) -> None:
        self._flood = flood
        self._checked = 0

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if (
            not isinstance(event, Message)
            or event.from_user is None
            or event.chat.type != ChatType.PRIVATE
        ):
            return await handler(event, data)
        verdict = self._flood.check(event.from_user.id)
        self._checked += 1
        if self._checked % 1000 == 0:
            self._flood.forget_idle()
        if verdict.allowed:
            return await handler(event, data)
        logger.info("flood: user %d slowed down", event.from_user.id)
        if verdict.notify:
            # Handled by the flood router alone, which tells the user once per episode.
            data["flood"] = verdict
            return await handler(event, data)
        return None


class AlbumMiddleware(BaseMiddleware):
    """Outer message middleware: an album arrives as one update per photo or file; it is
    handled once, as its first part, with every part (in order) as `album` in the data.

    The first part waits `latency_s` for the others; the others end there.
    """

    def __init__(self, latency_s: float = 0.6) -> None:
        self._latency = latency_s
        self._pending: dict[tuple[int, str], list[Message]] = {}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Message) or event.media_group_id is None:
            return await handler(event, data)
        key = (event.chat.id, event.media_group_id)
        parts = self._pending.get(key)
        if parts is not None:
            parts.append(event)
            return None
        self._pending[key] = parts = [event]
        try:
            await asyncio.sleep(self._latency)
        finally:
            del self._pending[key]
        parts.sort(key=lambda m: m.message_id)
        data["album"] = parts
        return await handler(parts[0], data)


class InFlight:
    """Counts updates being handled (error handling included), so shutdown can wait for them."""

    def __init__(self) -> None:
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.last_update_id: int | None = None

    @contextmanager
    def track(self, update_id: int) -> Iterator[None]:
        """Count one update for the body of the `with`."""
        self.last_update_id = max(self.last_update_id or 0, update_id)
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    @property
    def active(self) -> int:
        """Updates being handled right now."""
        return self._active

    async def drain(self, within_s: float) -> bool:
        """Wait until nothing is in flight; False when `within_s` ran out first."""
        try:
            await asyncio.wait_for(self._idle.wait(), within_s)
        except TimeoutError:
            return False
        return True


_NOT_RETRIED = frozenset({"getUpdates", "getMe"})


class TelegramLimits(BaseRequestMiddleware):
    """Session middleware: the one retry loop of every call to Telegram. A 429 is waited out
    (its `retry_after`, however long, unless `max_wait_s` says otherwise), a 5xx or a
    network error retried with backoff, until the call goes through or Telegram refuses it
    (400, 403: raised as is, whoever sent it records it).

    Only the update whose call failed waits; other users' handlers run on. `getUpdates` is
    left to the polling loop, which has its own backoff and must stop promptly, and `getMe`
    to the start-up, which says in one line that the Bot API cannot be reached.
    """

    def __init__(
        self,
        *,
        max_attempts: int | None = None,
        max_wait_s: float = math.inf,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._max_attempts = max_attempts
        self._max_wait = max_wait_s
        self._sleep = sleep

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ in _NOT_RETRIED:
            return await make_request(bot, method)
        return await retrying_429(
            lambda: make_request(bot, method),
            max_attempts=self._max_attempts,
            max_wait_s=self._max_wait,
            wait=self._sleep,
            label=type(method).__name__,
            outages=True,
        )


class ErrorsAnsweredByErrorRouter(BaseMiddleware):
    """A press that fails is answered by the error router (with the desk's refusal, or
    "out of date"), so `CallbackAnswerMiddleware` must not answer it first."""

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except Exception:
            answer: CallbackAnswer = data["callback_answer"]
            answer.disabled = True
            raise


class PromptAnswers(BaseMiddleware):
    """Outer callback middleware: every press is answered within `within_s`, before the
    work it triggers is done (Telegram drops an answer after 15 s, and the button spins
    until then).

    A press handled quickly keeps its own answer (a toast, a refusal); a slow one is
    answered empty at the deadline while its work goes on, and every later answer of it
    is skipped (`answered_early`): a refusal then reaches the chat as a message instead.
    """

    def __init__(self, within_s: float = 0.5, *, remember: int = 1000) -> None:
        self._within_s = within_s
        self._early: dict[str, None] = {}
        self._remember = remember

    def answered_early(self, query_id: str) -> bool:
        """Whether the press was answered at the deadline (answer nothing more)."""
        return query_id in self._early

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, CallbackQuery):
            return await handler(event, data)
        work = asyncio.ensure_future(handler(event, data))
        try:
            return await asyncio.wait_for(asyncio.shield(work), self._within_s)
        except TimeoutError:
            pass
        self._early[event.id] = None  # before any await: the work's own answer sees it
        while len(self._early) > self._remember:
            del self._early[next(iter(self._early))]
        try:
            await event.answer()
        except TelegramAPIError as error:
            logger.info("press %s not answered: %s", event.id, error)
        return await work


class AnswerOnce(CallbackAnswerMiddleware):
    """aiogram's `CallbackAnswerMiddleware` (answers after the handler, with the text it
    set), except for a press `PromptAnswers` already answered."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        prompt: PromptAnswers | None = data.get("prompt_answers")
        if prompt is None or not isinstance(event, CallbackQuery):
            return await super().__call__(handler, event, data)
        query = event

        async def unless_early(event: TelegramObject, data: dict[str, Any]) -> Any:
            try:
                return await handler(event, data)
            finally:
                answer: CallbackAnswer = data["callback_answer"]
                if prompt.answered_early(query.id) and not answer.disabled:
                    answer.disabled = True

        return await super().__call__(unless_early, event, data)
