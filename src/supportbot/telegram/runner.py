"""Runs the bot by long polling or webhook until asked to stop, then shuts down gracefully.

Stopping means: take no new updates, let the updates in flight finish (bounded by a
timeout), confirm the handled updates to Telegram, close the HTTP session.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import suppress
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from supportbot.domain.errors import ConfigError, SupportBotError
from supportbot.telegram.middlewares import InFlight

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """Where Telegram sends updates and the secret it must send back."""

    url: str
    path: str = "/telegram/webhook"
    host: str = "0.0.0.0"
    port: int = 8080
    secret: str | None = None


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGTERM and Ctrl-C set `stop` instead of killing the process mid-update."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, _on_signal, stop, sig)


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    logger.info("%s received: stopping", sig.name)
    stop.set()


async def run_polling(
    bot: Bot,
    dp: Dispatcher,
    in_flight: InFlight,
    stop: asyncio.Event,
    *,
    drain_timeout_s: float = 30.0,
    polling_timeout_s: int = 10,
) -> None:
    """Long polling until `stop` is set; then a graceful shutdown."""
    polling = asyncio.create_task(
        dp.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            polling_timeout=polling_timeout_s,
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            await polling  # polling ended on its own: surface its error
            return
        await dp.stop_polling()
        await polling
        await _drain(in_flight, drain_timeout_s)
        await _confirm_updates(bot, in_flight)
    finally:
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with suppress(asyncio.CancelledError):
                await polling
        await bot.session.close()


async def run_webhook(
    bot: Bot,
    dp: Dispatcher,
    in_flight: InFlight,
    stop: asyncio.Event,
    options: WebhookOptions,
    *,
    drain_timeout_s: float = 30.0,
) -> None:
    """Serve the webhook until `stop` is set; then a graceful shutdown.

    The secret token is checked on every request (X-Telegram-Bot-Api-Secret-Token); the
    webhook stays registered on shutdown so Telegram keeps updates until we are back.
    """
    app = web.Application()
    handler = SimpleRequestHandler(dp, bot, handle_in_background=True, secret_token=options.secret)
    app.router.add_route("POST", options.path, handler.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    await dp.emit_startup(bot=bot, **dp.workflow_data)
    try:
        await site.start()
        await bot.set_webhook(
            options.url,
            secret_token=options.secret,
            allowed_updates=dp.resolve_used_update_types(),
        )
        logger.info("Webhook serving on %s:%d%s", options.host, options.port, options.path)
        await stop.wait()
        await site.stop()  # no new updates from here on
        await _drain(in_flight, drain_timeout_s)
    finally:
        await runner.cleanup()
        await dp.emit_shutdown(bot=bot, **dp.workflow_data)
        await bot.session.close()


async def _drain(in_flight: InFlight, within_s: float) -> None:
    if in_flight.active:
        logger.info("Waiting for %d update(s) in flight", in_flight.active)
    if not await in_flight.drain(within_s):
        logger.warning("%d update(s) still in flight after %.0fs", in_flight.active, within_s)


async def _confirm_updates(bot: Bot, in_flight: InFlight) -> None:
    """Tell Telegram the updates we handled, so a restart does not get them again."""
    if in_flight.last_update_id is None:
        return
    try:
        await bot.get_updates(offset=in_flight.last_update_id + 1, limit=1, timeout=0)
    except TelegramAPIError as error:
        logger.warning("Could not confirm handled updates: %s", error)


def explain_startup_failure(
    error: BaseException, *, api_base: str, token: str | None
) -> SupportBotError | None:
    """One line saying what failed at start-up and what to check (never the token); None
    when `error` (or every error of a group) is not an unreachable or refusing Bot API."""
    fatal = (TelegramNetworkError, TelegramUnauthorizedError)
    if isinstance(error, BaseExceptionGroup):
        # The same failures from the tasks serving the bot (setting the webhook).
        matched, rest = error.split(fatal)
        if matched is None or rest is not None:
            return None
        while isinstance(error, BaseExceptionGroup):
            error = error.exceptions[0]
    if isinstance(error, TelegramNetworkError):
        reason = error.message
        if token:
            # aiohttp quotes the request URL in some errors, and the URL holds the token.
            reason = reason.replace(token, "<token>")
        return SupportBotError(
            f"cannot reach the Telegram Bot API at {api_base} ({reason}): check the network, "
            "any proxy or firewall, and telegram.api_base (SUPPORTBOT_TELEGRAM__API_BASE)"
        )
    if isinstance(error, TelegramUnauthorizedError):
        return ConfigError(
            f"the Bot API at {api_base} rejected the token (401 Unauthorized): check "
            "telegram.token (SUPPORTBOT_TELEGRAM__TOKEN); @BotFather shows the current one "
            "under /mybots > API Token, and a revoked token stops working"
        )
    return None
