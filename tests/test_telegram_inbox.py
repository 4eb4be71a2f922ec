"""The durable inbox, end to end: an update is stored before Telegram is told it arrived,
handled after a crash, and handled once however often Telegram delivers it."""

from __future__ import annotations

import asyncio
import json
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from fakes import TOKEN, ScriptedSuggester, make_conversation, running_bot
from faketg import FakeTelegram
from supportbot.domain.models import Decision
from supportbot.storage import inbox
from supportbot.storage.db import Database
from supportbot.storage.inbox import InMemoryUpdateInbox, SqliteUpdateInbox
from supportbot.telegram.bot import build_bot, build_dispatcher
from supportbot.telegram.middlewares import FloodControl, InFlight
from supportbot.telegram.runner import WebhookOptions, run_webhook
from supportbot.telegram.texts import Texts

USER = 1001


@dataclass
class StuckSuggester(ScriptedSuggester):
    """Never decides: the update is in the middle of being handled when the bot dies."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)

    async def decide(self, text: str, **kwargs: Any) -> Decision:
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


def _message(update_id: int, message_id: int, text: str) -> dict[str, Any]:
    user = {"id": USER, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1_770_000_000,
            "chat": {"id": USER, "type": "private", "first_name": "Ann"},
            "from": user,
            "text": text,
        },
    }


async def test_inbox_update_fetched_before_a_crash_is_answered_after_restart(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3", inbox.MIGRATIONS)
    try:
        async with FakeTelegram(token=TOKEN) as tg:
            tg.add_user(USER, language_code="en")
            stuck = StuckSuggester()
            async with running_bot(tg, suggester=stuck, inbox=SqliteUpdateInbox(db)) as first:
                tg.user_message(USER, "I forgot my password")
                await asyncio.wait_for(stuck.entered.wait(), 5)
                await tg.wait_for("getUpdates")  # the next poll: Telegram holds it no more
                first.task.cancel()  # a crash: nothing drained, nothing confirmed
                with suppress(asyncio.CancelledError):
                    await first.task
            assert tg.sent_to(USER) == []
            async with running_bot(tg, inbox=SqliteUpdateInbox(db)):
                await tg.wait_for("sendMessage", chat_id=USER, since=0)
            assert len(tg.sent_to(USER)) == 1
    finally:
        await db.close()


async def _webhook(
    tg: FakeTelegram, port: int, box: InMemoryUpdateInbox, secret: str | None
) -> tuple[asyncio.Event, asyncio.Task[None]]:
    conversation, _, _ = make_conversation()
    in_flight = InFlight()
    dp = build_dispatcher(
        conversation=conversation,
        texts=Texts.load(),
        flood=FloodControl(10, 1),
        in_flight=in_flight,
    )
    stop = asyncio.Event()
    options = WebhookOptions(
        url="https://bot.example/hook", path="/hook", host="127.0.0.1", port=port, secret=secret
    )
    bot = build_bot(TOKEN, tg.base_url)
    task = asyncio.create_task(run_webhook(bot, dp, in_flight, stop, options, inbox=box))
    await tg.wait_for("setWebhook", since=0)
    return stop, task


async def test_inbox_webhook_stores_before_answering_and_handles_a_resend_once(
    tg: FakeTelegram, unused_tcp_port: int
) -> None:
    box = InMemoryUpdateInbox()
    stop, task = await _webhook(tg, unused_tcp_port, box, "s3cret")
    tg.add_user(USER, language_code="en")
    url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            url, json=_message(7, 1, "my card was declined"), headers=headers
        ) as r:
            assert r.status == 200
            assert await box.last_id() == 7  # stored before Telegram heard "received"
        # Telegram did not see our answer in time and sends the update again.
        async with http.post(
            url, json=_message(7, 1, "my card was declined"), headers=headers
        ) as r:
            assert r.status == 200
    await tg.wait_for("sendMessage", chat_id=USER, since=0)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(tg.sent_to(USER)) == 1


async def test_inbox_webhook_without_a_configured_secret_makes_one(
    tg: FakeTelegram, unused_tcp_port: int
) -> None:
    stop, task = await _webhook(tg, unused_tcp_port, InMemoryUpdateInbox(), None)
    tg.add_user(USER, language_code="en")
    (hook,) = tg.calls_of("setWebhook")
    secret = hook.params["secret_token"]
    assert len(secret) >= 32
    url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    forged = _message(8, 1, "my card was declined")
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=forged) as r:
            assert r.status == 401
        async with http.post(
            url, json=forged, headers={"X-Telegram-Bot-Api-Secret-Token": "x"}
        ) as r:
            assert r.status == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret}
        async with http.post(url, json=forged, headers=headers) as r:
            assert r.status == 200
    await tg.wait_for("sendMessage", chat_id=USER, since=0)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert len(tg.sent_to(USER)) == 1


async def test_outage_on_send_is_retried_until_the_reply_is_delivered(tmp_path: Path) -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_user(USER, language_code="en")
        async with running_bot(tg) as bot:
            tg.fail_next("sendMessage", 502, times=2)
            tg.fail_next("sendMessage", 429, retry_after=1, times=5)
            answer = await bot.say(USER, "I forgot my password")
        assert len(answer) == 1
        refused = [c for c in tg.calls_of("sendMessage") if c.ok is False]
        assert len(refused) == 7


async def test_inbox_update_cut_short_again_and_again_is_given_up(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3", inbox.MIGRATIONS)
    try:
        box = SqliteUpdateInbox(db)
        poison = json.dumps(_message(9, 3, "I forgot my password"))
        await box.add([(9, poison), (10, json.dumps(_message(10, 4, "my card was declined")))])
        for _ in range(3):  # three starts already died handling update 9
            await box.resumed(9)
        async with FakeTelegram(token=TOKEN) as tg:
            tg.add_user(USER, language_code="en")
            async with running_bot(tg, inbox=box):
                await tg.wait_for("sendMessage", chat_id=USER, since=0)
            assert len(tg.sent_to(USER)) == 1  # the other update, not the given-up one
        assert await box.pending() == []
    finally:
        await db.close()


async def test_polling_waits_out_a_conflict_and_a_bad_gateway() -> None:
    async with FakeTelegram(token=TOKEN) as tg:
        tg.add_user(USER, language_code="en")
        tg.fail_next("getUpdates", 409, description="Conflict: terminated by other getUpdates")
        tg.fail_next("getUpdates", 502)
        async with running_bot(tg) as bot:
            answer = await bot.say(USER, "I forgot my password")
        assert len(answer) == 1
