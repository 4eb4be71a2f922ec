"""`supportbot run`: the bot built by `app`, served until SIGTERM or Ctrl-C, stopped cleanly.

Start-up failures that need no traceback (the Bot API unreachable, the token refused) are
raised as one line saying what to fix.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from zoneinfo import ZoneInfo

from supportbot.app import (
    BotApp,
    Desk,
    LiveKnowledge,
    build_bot_app,
    build_knowledge,
    event_log,
    open_database,
    require_token,
)
from supportbot.config import Settings
from supportbot.domain.errors import ConfigError
from supportbot.telegram.bot import register_commands
from supportbot.telegram.runner import (
    WebhookOptions,
    explain_startup_failure,
    run_polling,
    run_webhook,
    stop_on_signals,
)
from supportbot.telegram.stats import post_weekly_summaries

logger = logging.getLogger(__name__)

# How often the desk retries what could not reach the staff group, assigns tickets once
# working hours begin, and refreshes queue notices.
DESK_TICK_S = 15.0


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`supportbot run`: serve the knowledge base on Telegram until SIGTERM / Ctrl-C.

    Raises:
        SupportBotError: the Bot API cannot be reached or refuses the token (one line to
            fix it, instead of a traceback).
    """
    try:
        await _run_bot(settings, stop)
    except (Exception, BaseExceptionGroup) as error:
        token = settings.telegram.token
        explained = explain_startup_failure(
            error,
            api_base=settings.telegram.api_base,
            token=token.get_secret_value() if token is not None else None,
        )
        if explained is None:
            raise
        raise explained from error


async def _run_bot(settings: Settings, stop: asyncio.Event | None) -> None:
    require_token(settings)  # before the models load: a missing token is reported at once
    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    db = await open_database(settings)
    try:
        live = await build_knowledge(settings, db=db)
        app = await build_bot_app(settings, suggester=live.suggester, db=db, events=event_log(db))
        try:
            await _start_and_serve(settings, app, live, stop)
        finally:
            await app.bot.session.close()  # also when the start fails (closing twice is fine)
    finally:
        await db.close()
    logger.info("Stopped cleanly")


async def _start_and_serve(
    settings: Settings, app: BotApp, live: LiveKnowledge, stop: asyncio.Event
) -> None:
    me = await app.bot.get_me()
    logger.info(
        "Bot @%s (id %d) serving knowledge base %s: %d articles; mode %s; %s",
        me.username,
        me.id,
        live.root,
        len(live.kb.articles),
        settings.telegram.mode,
        f"staff group {settings.desk.staff_chat_id}"
        if app.desk is not None
        else "no staff group (desk.staff_chat_id): users are told no operator can answer",
    )
    await register_commands(app.bot, app.texts)
    async with asyncio.TaskGroup() as tasks:
        if settings.knowledge_base.watch:
            tasks.create_task(
                live.watch(debounce_ms=settings.knowledge_base.debounce_ms, stop_event=stop)
            )
        try:
            await serve_bot_app(settings, app, stop)
        finally:
            stop.set()  # the watcher stops with the bot


async def serve_bot_app(
    settings: Settings,
    app: BotApp,
    stop: asyncio.Event,
    *,
    polling_timeout_s: int = 10,
) -> None:
    """Serve updates until `stop` is set, with the desk's workers; then shut down cleanly."""
    desk = app.desk
    async with asyncio.TaskGroup() as tasks:
        if desk is not None:
            outbox = tasks.create_task(desk.staff.outbox.run())
            await desk.staff.check()
            tasks.create_task(_every(DESK_TICK_S, desk.service.tick, stop))
        staff_chat = settings.desk.staff_chat_id
        if staff_chat is not None and settings.analytics.weekly_summary:
            tasks.create_task(
                post_weekly_summaries(
                    app.bot,
                    staff_chat,
                    app.stats,
                    lang=settings.desk.language,
                    weekday=settings.analytics.weekly_summary_weekday,
                    at=settings.analytics.weekly_summary_time,
                    tz=ZoneInfo(settings.analytics.timezone),
                    stop=stop,
                )
            )
        cancelled = False
        try:
            await _serve(settings, app, stop, polling_timeout_s)
        except asyncio.CancelledError:
            # Not a stop: nothing is drained; what was not done is repeated on the next start.
            cancelled = True
            raise
        finally:
            stop.set()
            if desk is not None and not cancelled:
                # What the last updates queued for the staff group still goes out.
                await _drain_outbox(desk, outbox)


async def _drain_outbox(desk: Desk, worker: asyncio.Task[None]) -> None:
    try:
        await asyncio.wait_for(desk.service.drain(), timeout=10)
        await asyncio.wait_for(desk.staff.outbox.drain(), timeout=10)
    except TimeoutError:
        logger.warning("staff group: some queued messages were not sent before the stop")
    worker.cancel()


async def _every(seconds: float, job: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `job` every `seconds` until `stop`; a failing run is logged, the loop goes on."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
            return
        except TimeoutError:
            pass
        try:
            await job()
        except Exception:
            logger.exception("periodic job %s failed", getattr(job, "__qualname__", job))


async def _serve(
    settings: Settings, app: BotApp, stop: asyncio.Event, polling_timeout_s: int
) -> None:
    telegram = settings.telegram
    if telegram.mode == "polling":
        await run_polling(
            app.bot,
            app.dispatcher,
            app.in_flight,
            stop,
            inbox=app.inbox,
            polling_timeout_s=polling_timeout_s,
        )
        return
    hook = telegram.webhook
    if not hook.url:
        raise ConfigError("telegram.webhook.url is required in webhook mode")
    options = WebhookOptions(
        url=hook.url,
        path=hook.path,
        host=hook.host,
        port=hook.port,
        secret=hook.secret.get_secret_value() if hook.secret else None,
    )
    await run_webhook(app.bot, app.dispatcher, app.in_flight, stop, options, inbox=app.inbox)
