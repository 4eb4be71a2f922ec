"""Telegram's limits, once each: the sliding window and the 429 retry, with injected time."""

from __future__ import annotations

import pytest
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import SendMessage

from supportbot.telegram.limits import NO_WAIT, SlidingWindow, retrying_429
from supportbot.telegram.middlewares import FloodControl


def _429(seconds: int) -> TelegramRetryAfter:
    method = SendMessage(chat_id=1, text="hi")
    return TelegramRetryAfter(method=method, message="Too Many Requests", retry_after=seconds)


def test_sliding_window_admits_limit_events_per_window() -> None:
    window = SlidingWindow(2, 60.0)
    assert window.take(0.0) <= 0
    assert window.take(10.0) <= 0
    assert window.take(20.0) == 40.0  # the first one leaves the window at 60 s
    assert not window.is_idle(20.0)
    assert window.take(60.0) <= 0
    assert window.is_idle(130.0)


def test_flood_control_tells_once_per_episode() -> None:
    now = [0.0]
    flood = FloodControl(2, 10.0, clock=lambda: now[0])
    assert flood.check(7).allowed
    assert flood.check(7).allowed
    first = flood.check(7)
    assert (first.allowed, first.notify, first.retry_after_s) == (False, True, 10.0)
    assert not flood.check(7).notify  # told already
    now[0] = 10.0
    assert flood.check(7).allowed
    assert flood.check(8).allowed  # other users are not affected


async def test_retrying_429_waits_out_short_limits_and_gives_up_on_long_ones() -> None:
    waited: list[float] = []
    heard: list[float] = []
    failures = [_429(2), _429(3)]

    async def send() -> str:
        if failures:
            raise failures.pop(0)
        return "sent"

    async def wait(seconds: float) -> None:
        waited.append(seconds)

    result = await retrying_429(send, max_attempts=5, wait=wait, on_429=heard.append)
    assert (result, waited, heard) == ("sent", [2, 3], [2, 3])

    async def always() -> str:
        raise _429(120)

    with pytest.raises(TelegramRetryAfter):
        await retrying_429(always, max_attempts=5, max_wait_s=60.0, wait=wait)
    assert waited == [2, 3]  # a 2-minute limit is not slept through
    with pytest.raises(TelegramRetryAfter):
        await retrying_429(always, max_attempts=3, on_429=heard.append, wait=NO_WAIT)
    assert heard[2:] == [120, 120, 120]  # every 429 is heard, the last one too
