"""`/stats` in the staff group and the weekly summary schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from fakes import TOKEN
from faketg import FakeTelegram
from supportbot.analytics.stats import StatsService, next_weekly_run
from supportbot.domain.events import Event, EventKind
from supportbot.storage.events import InMemoryEventLog
from supportbot.storage.inbox import InMemoryUpdateInbox
from supportbot.telegram.bot import build_bot, build_dispatcher
from supportbot.telegram.middlewares import FloodControl, InFlight
from supportbot.telegram.runner import run_polling
from supportbot.telegram.stats import get_stats_router
from supportbot.telegram.texts import Texts

STAFF = -1001234
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)  # a Friday


def _self_service(conversation: str, user: int, at: datetime) -> list[Event]:
    return [
        Event(at, EventKind.MESSAGE_RECEIVED, conversation, user),
        Event(at + timedelta(seconds=2), EventKind.BOT_REPLY, conversation, user),
        Event(
            at + timedelta(seconds=60),
            EventKind.CONVERSATION_CLOSED,
            conversation,
            user,
            data={"outcome": "self_service"},
        ),
    ]


async def _log() -> InMemoryEventLog:
    log = InMemoryEventLog()
    await log.append_many(
        _self_service("today-1", 1, NOW - timedelta(hours=2))
        + _self_service("earlier-1", 2, NOW - timedelta(days=3))
    )
    return log


async def test_stats_counts_today_and_the_week_apart() -> None:
    stats = StatsService(await _log(), ZoneInfo("Europe/Moscow"), clock=lambda: NOW)
    text = await stats.stats_text("en")
    today, week = text.split("\n\n", 1)
    assert "Today" in today
    assert "1" in today
    assert "This week" in week
    assert "2" in week
    assert "100" in week  # every conversation was self-service


def test_weekly_run_is_the_next_configured_weekday_and_time() -> None:
    moscow = ZoneInfo("Europe/Moscow")
    due = next_weekly_run(NOW, "mon", "09:00", moscow)
    assert due == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)  # 09:00 in Moscow is 06:00 UTC
    assert next_weekly_run(due, "mon", "09:00", moscow) == due + timedelta(days=7)


async def test_stats_command_answers_in_the_staff_group_only() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_chat(STAFF, is_forum=True, title="Support staff")
        bot = build_bot(TOKEN, tg.base_url, max_retry_wait_s=1)
        in_flight = InFlight()
        dp = build_dispatcher(
            conversation=None,  # type: ignore[arg-type]  # no private chats in this test
            texts=Texts.load(),
            flood=FloodControl(100, 1.0),
            extra_routers=[get_stats_router(STAFF)],
            in_flight=in_flight,
        )
        dp["stats"] = StatsService(await _log(), UTC, clock=lambda: NOW)
        dp["staff_lang"] = "ru"
        stop = asyncio.Event()
        task = asyncio.create_task(
            run_polling(bot, dp, in_flight, stop, inbox=InMemoryUpdateInbox(), polling_timeout_s=1)
        )
        try:
            tg.group_message(STAFF, 777, "/stats")
            call = await tg.wait_for("sendMessage", chat_id=STAFF, timeout=10)
            assert "Сегодня" in call.params["text"]
            assert "За неделю" in call.params["text"]
            other = -100999
            tg.add_chat(other, is_forum=False, title="Somewhere else")
            pushed = tg.group_message(other, 777, "/stats", is_forum=False)
            async with asyncio.timeout(10):
                while True:  # until the bot has handled that update
                    if (
                        in_flight.last_update_id or 0
                    ) >= pushed.update_id and not in_flight.active:
                        break
                    await asyncio.sleep(0.01)
            assert tg.sent_to(other) == []
        finally:
            stop.set()
            await asyncio.wait_for(task, 10)
