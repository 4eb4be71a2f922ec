"""The staff group's `/stats` command and the weekly summary posted there."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, tzinfo

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import Message

from supportbot.analytics.stats import StatsService, next_weekly_run

logger = logging.getLogger(__name__)


def get_stats_router(staff_chat_id: int) -> Router:
    """`/stats` for members of the staff group; other chats never reach these handlers."""
    router = Router(name=__name__)
    router.message.filter(F.chat.id == staff_chat_id)

    @router.message(Command("stats"))
    async def on_stats(message: Message, stats: StatsService, staff_lang: str) -> None:
        """/stats: today's and this week's headline numbers."""
        await message.answer(await stats.stats_text(staff_lang), parse_mode="HTML")

    return router


async def post_weekly_summaries(
    bot: Bot,
    chat_id: int,
    stats: StatsService,
    *,
    lang: str,
    weekday: str,
    at: str,
    tz: tzinfo,
    stop: asyncio.Event,
) -> None:
    """Post the weekly summary to the staff group every `weekday` at `at`, until `stop`."""
    while not stop.is_set():
        due = next_weekly_run(datetime.now(UTC), weekday, at, tz)
        logger.info("Next weekly summary at %s", due.isoformat())
        delay = (due - datetime.now(UTC)).total_seconds()
        try:
            await asyncio.wait_for(stop.wait(), timeout=max(delay, 0))
            return  # stopped before it was due
        except TimeoutError:
            pass
        try:
            await bot.send_message(
                chat_id, await stats.weekly_summary_text(lang), parse_mode="HTML"
            )
        except TelegramAPIError:
            logger.exception("Could not post the weekly summary to the staff group %d", chat_id)
