"""End to end: restarts, stale buttons, Telegram's limits, floods, failures, webhook mode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from pathlib import Path

import aiohttp
import pytest

from fakes import TOKEN, ScriptedSuggester, running_bot, sqlite_repository
from faketg import FakeTelegram
from supportbot.conversation.engine import Conversation
from supportbot.conversation.handoff import NoStaffHandoff
from supportbot.domain.models import Decision, Lang
from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher
from supportbot.storage.conversations import InMemoryConversationRepository
from supportbot.storage.events import InMemoryEventLog
from supportbot.storage.inbox import InMemoryUpdateInbox
from supportbot.telegram.bot import build_bot, build_dispatcher, register_commands
from supportbot.telegram.middlewares import FloodControl, InFlight
from supportbot.telegram.runner import WebhookOptions, run_webhook
from supportbot.telegram.texts import Texts

USER = 1001
OTHER = 2002
STALE = "This button is out of date."


async def test_bot_button_works_after_a_restart(tg: FakeTelegram, tmp_path: Path) -> None:
    db, repository = await sqlite_repository(tmp_path / "bot.sqlite3")
    async with running_bot(tg, repository=repository) as bot:
        (suggestion,) = await bot.say(USER, "problem with my account", language_code="en")
    await db.close()

    db, repository = await sqlite_repository(tmp_path / "bot.sqlite3")
    try:
        async with running_bot(tg, repository=repository) as bot:
            (opened,) = await bot.press(USER, suggestion, "Reset your password")
            assert "Reset your password" in (opened.text or "")
            (step1,) = await bot.press(USER, opened, "step by step")
            assert "Step 1 of 3" in (step1.text or "")
    finally:
        await db.close()


async def test_bot_answers_stale_and_forged_buttons_politely(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tg) as bot:
        (answer,) = await bot.say(USER, "my card was declined", language_code="en")
        await bot.press(USER, answer, "This helped")  # closes the conversation
        assert await bot.press(USER, answer, "Didn't help") == []
        await bot.press_data(USER, answer.message_id, "b:z:1::0")  # unknown action
        await bot.press_data(USER, answer.message_id, "garbage")  # not ours at all
        await bot.press_data(USER, answer.message_id, "b:d:1:ffffffffffff:1")  # unknown key
        answers = bot.callback_answers()
    assert [a.get("text") for a in answers] == [None, STALE, STALE, STALE, STALE]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_bot_step_button_pressed_twice_is_stale(tg: FakeTelegram) -> None:
    async with running_bot(tg) as bot:
        (answer,) = await bot.say(USER, "the app keeps crashing", language_code="en")
        (step1,) = await bot.press(USER, answer, "step by step")
        (step2,) = await bot.press(USER, step1, "Done")
        assert await bot.press(USER, step1, "Done") == []
        assert bot.callback_answers()[-1]["text"] == STALE
        (step3,) = await bot.press(USER, step2, "Done")
        assert "Step 3 of 5" in (step3.text or "")


async def test_bot_waits_out_429_and_retries(tg: FakeTelegram) -> None:
    async with running_bot(tg) as bot:
        tg.fail_next("sendMessage", code=429, retry_after=1)
        (sent,) = await bot.say(USER, "my card was declined", language_code="en")
    assert "Card payment declined" in (sent.text or "")
    first, second = tg.calls_of("sendMessage")
    assert first.error is not None
    assert first.error["error_code"] == 429
    assert second.ok is True


async def test_bot_marks_a_user_who_blocked_it_and_does_not_retry(tg: FakeTelegram) -> None:
    async with running_bot(tg) as bot:
        tg.fail_next("sendMessage", code=403, description="Forbidden: bot was blocked by the user")
        assert await bot.say(USER, "my card was declined", language_code="en") == []
        assert len(tg.calls_of("sendMessage")) == 1
        assert await bot.conversation.is_blocked(USER)
        # Writing again unblocks (as in Telegram) and the bot answers as usual.
        sent = await bot.say(USER, "how do i reset my password", language_code="en")
        assert "Reset your password" in (sent[0].text or "")
        assert not await bot.conversation.is_blocked(USER)


async def test_bot_slows_down_a_flooding_user_only(tg: FakeTelegram) -> None:
    async with running_bot(tg, flood=FloodControl(3, 60)) as bot:
        replies = []
        for i in range(6):
            replies += await bot.say(
                USER, f"question number {i} about notifications", language_code="en"
            )
        other = await bot.say(OTHER, "my card was declined", language_code="en")
    notices = [m for m in replies if "too fast" in (m.text or "")]
    assert len(notices) == 1
    assert len(replies) == 4  # three answers and one notice
    assert "Card payment declined" in (other[0].text or "")


class _Exploding(ScriptedSuggester):
    async def decide(self, text: str, *, exclude: Collection[str] = (), **kw: object) -> Decision:
        if "boom" in text:
            raise RuntimeError("suggester outage")
        return await super().decide(text, exclude=exclude)


async def test_bot_apologises_for_a_failing_update_and_keeps_running(
    tg: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_bot(tg, suggester=_Exploding()) as bot:
        (apology,) = await bot.say(USER, "boom", language_code="en")
        (answer,) = await bot.say(USER, "my card was declined", language_code="en")
    assert apology.text == "Sorry, something went wrong on our side. Please try again in a moment."
    assert "Card payment declined" in (answer.text or "")
    failed = [r for r in caplog.records if r.getMessage().startswith("update ")]
    assert failed
    assert "failed" in failed[0].getMessage()
    assert failed[0].exc_info is not None


async def test_bot_serves_other_users_while_one_is_slow(tg: FakeTelegram) -> None:
    release = asyncio.Event()
    busy = asyncio.Event()

    class _SlowForOne(ScriptedSuggester):
        async def decide(
            self, text: str, *, exclude: Collection[str] = (), **kw: object
        ) -> Decision:
            if "slow" in text:
                busy.set()
                await release.wait()  # held until the other user has been answered
            return await super().decide(text, exclude=exclude)

    async with running_bot(tg, suggester=_SlowForOne()):
        tg.user_message(USER, "slow card question", language_code="en")
        await asyncio.wait_for(busy.wait(), 10)
        tg.user_message(OTHER, "my card was declined", language_code="en")
        fast = await tg.wait_for("sendMessage", chat_id=OTHER)
        assert tg.sent_to(USER) == []  # the slow one is still being worked on
        release.set()
        slow = await tg.wait_for("sendMessage", chat_id=USER, since=0)
    assert "Card payment declined" in fast.params["text"]
    assert "Card payment declined" in slow.params["text"]


async def test_bot_registers_menu_commands_in_both_languages(tg: FakeTelegram) -> None:
    bot = build_bot(TOKEN, tg.base_url)
    try:
        await register_commands(bot, Texts.load())
    finally:
        await bot.session.close()
    calls = tg.calls_of("setMyCommands")
    by_lang = {c.params.get("language_code"): c.params["commands"] for c in calls}
    assert set(by_lang) == {None, "ru"}
    assert [c["command"] for c in by_lang[None]] == [
        "start",
        "help",
        "operator",
        "lang",
    ]
    assert by_lang["ru"][2]["description"] == "Позвать оператора"
    assert all(c.params["scope"] == {"type": "all_private_chats"} for c in calls)


async def test_bot_webhook_checks_the_secret_and_answers(
    tg: FakeTelegram, unused_tcp_port: int
) -> None:
    texts = Texts.load()
    conversation = Conversation(
        suggester=ScriptedSuggester(),
        repository=InMemoryConversationRepository(),
        handoff=NoStaffHandoff(),
        events=InMemoryEventLog(),
        intents=FuzzyIntentMatcher(),
        duplicates=FuzzyDuplicateDetector(),
    )
    bot = build_bot(TOKEN, tg.base_url)
    in_flight = InFlight()
    dp = build_dispatcher(
        conversation=conversation, texts=texts, flood=FloodControl(10, 1), in_flight=in_flight
    )
    stop = asyncio.Event()
    options = WebhookOptions(
        url="https://bot.example/hook",
        path="/hook",
        host="127.0.0.1",
        port=unused_tcp_port,
        secret="s3cret",
    )
    task = asyncio.create_task(
        run_webhook(bot, dp, in_flight, stop, options, inbox=InMemoryUpdateInbox())
    )
    await tg.wait_for("setWebhook", since=0)
    tg.add_user(USER, language_code="en")
    update = {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": USER, "type": "private", "first_name": "Ivan"},
            "from": {"id": USER, "is_bot": False, "first_name": "Ivan", "language_code": "en"},
            "text": "my card was declined",
        },
    }
    url = f"http://127.0.0.1:{unused_tcp_port}/hook"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json=update) as wrong:
            assert wrong.status == 401
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with http.post(url, json=update, headers=headers) as right:
            assert right.status == 200
    call = await tg.wait_for("sendMessage", chat_id=USER, since=0)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert "Card payment declined" in call.params["text"]
    (hook,) = tg.calls_of("setWebhook")
    assert hook.params["secret_token"] == "s3cret"
    # In English for an English user: the answer's buttons are the English ones.
    labels = [b["text"] for row in call.params["reply_markup"]["inline_keyboard"] for b in row]
    assert texts.button(Lang.EN, "helped") in labels
