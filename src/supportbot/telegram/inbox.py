"""The durable inbox at the Telegram edge: every update is stored before Telegram is told it
arrived, fed to aiogram's Dispatcher, and marked done once handled.

Polling confirms an offset to Telegram only with the next `getUpdates`, so this loop drives
`getUpdates` itself and asks for the next batch only after the last one is stored. A webhook
answers Telegram only after the update is stored. After a crash, what was stored and not done
is handled on start; an update id seen before is never handled twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from supportbot.domain import effects
from supportbot.domain.ports import UpdateInbox

logger = logging.getLogger(__name__)

# Handled updates kept after they are done (their ids keep a redelivery from running twice).
KEEP_DONE = 10_000
# Starts that may find an update not done before it is given up (it may be what kills us).
MAX_RESUMES = 3


@dataclass
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class DurableUpdates:
    """Stores updates, feeds them to the Dispatcher as tracked tasks, marks them done."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, inbox: UpdateInbox) -> None:
        self._bot = bot
        self._dp = dispatcher
        self._inbox = inbox
        self._running: dict[int, asyncio.Task[None]] = {}
        self._lanes: dict[tuple[int, int], _Lane] = {}
        self._handled = 0

    async def accept(self, updates: Sequence[Update]) -> None:
        """Store `updates` (raises when storage fails: Telegram must not be told) and start
        handling those not seen before."""
        raw = [(u.update_id, _dump(u)) for u in updates]
        fresh = set(await self._inbox.add(raw))
        for update in updates:
            if update.update_id in fresh:
                fresh.discard(update.update_id)
                self._start(update)

    async def resume(self) -> int:
        """Handle what a previous run stored and did not finish; how many updates."""
        pending = await self._inbox.pending()
        for update_id, payload in pending:
            if update_id in self._running:
                continue
            if await self._inbox.resumed(update_id) > MAX_RESUMES:
                logger.error("update %d was cut short %d times: given up", update_id, MAX_RESUMES)
                await self._inbox.done(update_id)
                continue
            try:
                update = Update.model_validate(json.loads(payload), context={"bot": self._bot})
            except ValueError:
                logger.exception("stored update %d cannot be read; dropped", update_id)
                await self._inbox.done(update_id)
                continue
            self._start(update)
        if pending:
            logger.info("Resuming %d update(s) stored before the last stop", len(pending))
        return len(pending)

    async def next_offset(self) -> int | None:
        """The offset that confirms every update stored so far."""
        last = await self._inbox.last_id()
        return None if last is None else last + 1

    async def wait_idle(self) -> None:
        """Wait until every update started so far was handled."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def abort(self) -> None:
        """Cancel the updates being handled (a crash-like stop): they stay pending."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    @asynccontextmanager
    async def _lane(self, update: Update) -> AsyncIterator[None]:
        """One sender's messages in one chat are handled one after another, in the order
        they came (a user's follow-ups, an operator's replies). Button presses and album
        parts (which wait for each other) are not held up."""
        message = update.message or update.edited_message
        if message is None or message.media_group_id is not None:
            yield
            return
        key = (message.chat.id, message.from_user.id if message.from_user else 0)
        lane = self._lanes.get(key)
        if lane is None:
            lane = self._lanes[key] = _Lane()
        lane.users += 1
        try:
            async with lane.lock:
                yield
        finally:
            lane.users -= 1
            if lane.users == 0:
                del self._lanes[key]

    def _start(self, update: Update) -> None:
        task = asyncio.create_task(self._handle(update), name=f"update-{update.update_id}")
        self._running[update.update_id] = task
        task.add_done_callback(lambda _: self._running.pop(update.update_id, None))

    async def _handle(self, update: Update) -> None:
        with effects.collect() as started:
            async with self._lane(update):
                try:
                    result = await self._dp.feed_update(self._bot, update, dispatcher=self._dp)
                    if isinstance(result, TelegramMethod):
                        await self._dp.silent_call_request(self._bot, result)
                except Exception:
                    # The error router answered what it could; a second run fails the same.
                    logger.exception("update %d failed", update.update_id)
        # Sends the handler left running (the relay to a paced staff group) are part of it.
        await effects.finished(started)
        await self._inbox.done(update.update_id)
        self._handled += 1
        if self._handled % 1000 == 0:
            await self._inbox.forget_done(KEEP_DONE)


def _dump(update: Update) -> str:
    return update.model_dump_json(exclude_none=True, by_alias=True)


async def poll(
    bot: Bot,
    updates: DurableUpdates,
    stop: asyncio.Event,
    *,
    timeout_s: int,
    allowed_updates: list[str] | None,
    max_backoff_s: float = 30.0,
) -> None:
    """Long polling until `stop`: a batch is stored before the next `getUpdates` confirms it.

    Network errors, 5xx, 429 and conflicts (another instance polling) wait, with backoff,
    and try again; other errors (a refused token) end the loop.
    """
    offset = await updates.next_offset()
    await updates.resume()
    backoff = 1.0
    while not stop.is_set():
        request = GetUpdates(offset=offset, timeout=timeout_s, allowed_updates=allowed_updates)
        try:
            batch = await bot(request, request_timeout=timeout_s + 10)
        except TelegramRetryAfter as error:
            await _pause(stop, float(error.retry_after))
            continue
        except (TelegramNetworkError, TelegramServerError, TelegramConflictError) as error:
            # A conflict: another instance polls with this token, or a webhook is set.
            logger.warning("getUpdates failed (%s): again in %.0f s", error, backoff)
            await _pause(stop, backoff)
            backoff = min(backoff * 2, max_backoff_s)
            continue
        backoff = 1.0
        if not batch:
            continue
        await updates.accept(batch)
        offset = max(u.update_id for u in batch) + 1


class InboxRequestHandler(SimpleRequestHandler):
    """aiogram's webhook handler (the secret token checked first), answering Telegram only
    once the update is stored; a storage failure answers 500, so Telegram sends it again."""

    def __init__(self, updates: DurableUpdates, dispatcher: Dispatcher, bot: Bot, secret: str):
        super().__init__(dispatcher, bot, handle_in_background=True, secret_token=secret)
        self._updates = updates

    async def _handle_request_background(self, bot: Bot, request: web.Request) -> web.Response:
        try:
            payload = await request.json(loads=bot.session.json_loads)
            update = Update.model_validate(payload, context={"bot": bot})
        except ValueError:
            return web.json_response({"ok": False}, status=400)
        await self._updates.accept([update])
        return web.json_response({}, dumps=bot.session.json_dumps)


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
