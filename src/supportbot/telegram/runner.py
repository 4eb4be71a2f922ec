"""Runs the bot by long polling or webhook until asked to stop, then shuts down gracefully.

Stopping means: take no new updates, let the updates in flight finish (bounded by a
timeout), confirm the handled updates to Telegram, close the HTTP session.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
from contextlib import suppress
from dataclasses import dataclass

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiohttp import web

from supportbot.domain.errors import ConfigError, SupportBotError
from supportbot.domain.ports import UpdateInbox
from supportbot.telegram.inbox import DurableUpdates, InboxRequestHandler, poll
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
    inbox: UpdateInbox,
    drain_timeout_s: float = 30.0,
    polling_timeout_s: int = 10,
) -> None:
    """Long polling through the durable inbox until `stop` is set; then a graceful shutdown."""
    updates = DurableUpdates(bot, dp, inbox)
    workflow = {"dispatcher": dp, **dp.workflow_data}
    await dp.emit_startup(bot=bot, **workflow)
    polling = asyncio.create_task(
        poll(
            bot,
            updates,
            stop,
            timeout_s=polling_timeout_s,
            allowed_updates=dp.resolve_used_update_types(),
        )
    )
    stopping = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait({polling, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if polling in done:
            await polling  # polling ended on its own: surface its error
            return
        polling.cancel()
        with suppress(asyncio.CancelledError):
            await polling
        await _drain(in_flight, updates, drain_timeout_s)
    finally:
        stopping.cancel()
        if not polling.done():
            polling.cancel()
            with suppress(asyncio.CancelledError):
                await polling
        await updates.abort()  # cancelled, or past the drain: handled again on the next start
        await dp.emit_shutdown(bot=bot, **workflow)
        await bot.session.close()


async def run_webhook(
    bot: Bot,
    dp: Dispatcher,
    in_flight: InFlight,
    stop: asyncio.Event,
    options: WebhookOptions,
    *,
    inbox: UpdateInbox,
    drain_timeout_s: float = 30.0,
) -> None:
    """Serve the webhook until `stop` is set; then a graceful shutdown.

    The secret token is checked on every request (X-Telegram-Bot-Api-Secret-Token): when
    none is configured, a random one is made for this run and registered with `setWebhook`.
    Telegram is answered once the update is stored. The webhook stays registered on
    shutdown so Telegram keeps updates until we are back.
    """
    secret = options.secret or secrets.token_urlsafe(32)
    if not options.secret:
        logger.info("telegram.webhook.secret not set: using a random secret for this run")
    updates = DurableUpdates(bot, dp, inbox)
    app = web.Application()
    handler = InboxRequestHandler(updates, dp, bot, secret)
    app.router.add_route("POST", options.path, handler.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, options.host, options.port)
    await dp.emit_startup(bot=bot, **dp.workflow_data)
    try:
        await updates.resume()
        await site.start()
        await bot.set_webhook(
            options.url,
            secret_token=secret,
            allowed_updates=dp.resolve_used_update_types(),
        )
        logger.info("Webhook serving on %s:%d%s", options.host, options.port, options.path)
        await stop.wait()
        await site.stop()  # no new updates from here on
        await _drain(in_flight, updates, drain_timeout_s)
    finally:
        await runner.cleanup()
        await dp.emit_shutdown(bot=bot, **dp.workflow_data)
        await bot.session.close()


async def _drain(in_flight: InFlight, updates: DurableUpdates, within_s: float) -> None:
    if in_flight.active:
        logger.info("Waiting for %d update(s) in flight", in_flight.active)
    try:
        await asyncio.wait_for(updates.wait_idle(), within_s)
    except TimeoutError:
        # Not marked done: the next start handles them again.
        logger.warning("%d update(s) still in flight after %.0fs", in_flight.active, within_s)


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
