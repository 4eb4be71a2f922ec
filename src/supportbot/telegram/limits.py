"""Telegram's limits, once each: a sliding window of sends, and the wait-and-retry of 429s."""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class SlidingWindow:
    """At most `limit` events in any `window_s` seconds (times from the caller's clock)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def wait_s(self, now: float) -> float:
        """Seconds until one more event fits (0 or less: it fits now)."""
        while self._times and now - self._times[0] >= self.window_s:
            self._times.popleft()
        if len(self._times) < self.limit:
            return 0.0
        return self._times[0] + self.window_s - now

    def take(self, now: float) -> float:
        """Count one event when it fits; else the seconds until it would (nothing counted)."""
        wait = self.wait_s(now)
        if wait <= 0:
            self._times.append(now)
        return wait

    def is_idle(self, now: float) -> bool:
        """Nothing counted within the window (safe to forget)."""
        return not self._times or now - self._times[-1] >= self.window_s


async def _no_wait(_seconds: float) -> None:
    return None


async def retrying_429(
    send: Callable[[], Awaitable[T]],
    *,
    max_attempts: int | None,
    max_wait_s: float = math.inf,
    on_429: Callable[[float], None] = lambda _seconds: None,
    wait: Callable[[float], Awaitable[None]] = asyncio.sleep,
    label: str = "a call",
    outages: bool = False,
    backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
) -> T:
    """Run `send`, retrying a 429 after its `retry_after`, up to `max_attempts` times (None:
    until it goes through); a longer `retry_after` than `max_wait_s` is raised at once.

    With `outages`, a 5xx or a network error is retried too, after a backoff that doubles
    from `backoff_s` to `max_backoff_s`; a refusal (400, 403) is raised at once. `on_429`
    hears every 429 (the last one too); `wait` waits before a retry (a caller that paces
    itself passes one that returns at once for 429s)."""
    attempt = 1
    backoff = backoff_s
    while True:
        try:
            return await send()
        except TelegramRetryAfter as error:
            on_429(error.retry_after)
            if (max_attempts is not None and attempt >= max_attempts) or (
                error.retry_after > max_wait_s
            ):
                raise
            logger.warning(
                "429 on %s: retrying in %ss (attempt %d)", label, error.retry_after, attempt
            )
            await wait(error.retry_after)
        except (TelegramServerError, TelegramNetworkError) as error:
            if not outages or (max_attempts is not None and attempt >= max_attempts):
                raise
            logger.warning(
                "%s on %s: retrying in %.0fs (attempt %d)",
                type(error).__name__,
                label,
                backoff,
                attempt,
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, max_backoff_s)
        attempt += 1


NO_WAIT = _no_wait
