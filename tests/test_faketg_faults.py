"""The fake Bot API's fault storms: outages by time window, as a real aiogram Bot sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from faketg import SEND_METHODS, FakeTelegram

TOKEN = "123456:TEST-TOKEN"
USER = 1001
OTHER = 1002


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram(token=TOKEN) as server:
        server.add_user(USER)
        server.add_user(OTHER)
        yield server


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = tg.make_bot()
    yield bot
    await bot.session.close()


async def test_storm_fails_every_send_until_it_ends(tg: FakeTelegram, bot: Bot) -> None:
    storm = tg.storm(seconds=600, code=502)
    for _ in range(3):
        with pytest.raises(TelegramServerError, match="Bad Gateway"):
            await bot.send_message(USER, "hello")
    with pytest.raises(TelegramServerError):
        await bot.copy_message(OTHER, USER, 1)
    assert (await bot.get_me()).id == 123456  # reads are not send methods
    assert tg.storm_active()

    tg.end_storms()

    sent = await bot.send_message(USER, "hello")
    assert [m.text for m in tg.sent_to(USER)] == ["hello"]
    assert sent.message_id == tg.sent_to(USER)[0].message_id
    assert storm.hits == 4
    assert not tg.storm_active()
    failed = [c for c in tg.calls_of("sendMessage") if not c.ok]
    assert len(failed) == 3
    assert failed[0].error == {"ok": False, "error_code": 502, "description": "Bad Gateway"}


async def test_storm_429_carries_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.storm(["sendMessage"], seconds=600, code=429, retry_after=3)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(USER, "hello")
    assert raised.value.retry_after == 3
    assert "retry after 3" in raised.value.message


async def test_storm_is_over_once_its_window_has_passed(tg: FakeTelegram, bot: Bot) -> None:
    storm = tg.storm(seconds=0, code=502)
    await bot.send_message(USER, "hello")
    assert storm.hits == 0
    assert not tg.storm_active()


async def test_storm_limited_to_named_methods_and_chat(tg: FakeTelegram, bot: Bot) -> None:
    tg.storm(["SENDMESSAGE"], seconds=600, code=500, chat_id=USER)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(USER, "hello")
    await bot.send_message(OTHER, "hello")  # another chat
    await bot.send_chat_action(USER, "typing")  # another method
    assert [m.text for m in tg.sent_to(OTHER)] == ["hello"]


async def test_storm_on_every_method_reaches_reads_too(tg: FakeTelegram, bot: Bot) -> None:
    tg.storm("*", seconds=600, code=503)
    with pytest.raises(TelegramServerError, match="Service Unavailable"):
        await bot.get_me()


async def test_default_storm_methods_cover_what_a_bot_sends() -> None:
    names = {m.lower() for m in SEND_METHODS}
    for method in ("sendMessage", "copyMessage", "createForumTopic", "editMessageText"):
        assert method.lower() in names
    assert "answercallbackquery" in names
    assert "getupdates" not in names


async def test_hang_outlasts_a_short_client_timeout(tg: FakeTelegram, bot: Bot) -> None:
    storm = tg.hang(["sendMessage"], seconds=600, delay_s=30)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER, "hello", request_timeout=1)
    assert storm.hits == 1
    tg.end_storms()
    await bot.send_message(USER, "after")  # the window is over: served at once
    assert [m.text for m in tg.sent_to(USER)] == ["after"]


async def test_hang_without_error_serves_the_call(tg: FakeTelegram, bot: Bot) -> None:
    storm = tg.hang(["sendMessage"], seconds=600, delay_s=0.01)
    await bot.send_message(USER, "slow but fine")
    assert storm.hits == 1
    assert [m.text for m in tg.sent_to(USER)] == ["slow but fine"]


async def test_dropped_connection_is_a_network_error(tg: FakeTelegram, bot: Bot) -> None:
    storm = tg.drop_connections(["sendMessage"], seconds=600)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(USER, "hello")
    assert tg.sent_to(USER) == []
    call = tg.calls_of("sendMessage")[0]
    assert call.ok is False
    assert call.error is not None
    assert call.error["description"] == "connection reset"
    assert storm.hits == 1
    tg.end_storms()
    await bot.send_message(USER, "hello again")
    assert [m.text for m in tg.sent_to(USER)] == ["hello again"]
