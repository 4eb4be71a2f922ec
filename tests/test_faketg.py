"""End-to-end checks of the fake Telegram server with a real aiogram Bot and Dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
)

from faketg import FakeTelegram, UploadedFile

TOKEN = "123456:TEST-TOKEN"
USER = 1001
GROUP = -1001234567890


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    bot = tg.make_bot()
    yield bot
    await bot.session.close()


@asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot) -> AsyncIterator[None]:
    run = dp.start_polling(bot, handle_signals=False, close_bot_session=False)
    task = asyncio.create_task(run)
    try:
        yield
    finally:
        await dp.stop_polling()
        await task


async def send_with_retry(
    bot: Bot,
    chat_id: int,
    text: str,
    sleep: Callable[[float], Awaitable[None]],
    attempts: int = 3,
) -> Message:
    for _ in range(attempts - 1):
        try:
            return await bot.send_message(chat_id, text)
        except TelegramRetryAfter as error:
            await sleep(error.retry_after)
    return await bot.send_message(chat_id, text)


async def test_dispatcher_echoes_user_message(tg: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    async with polling(dp, bot):
        pushed = tg.user_message(USER, "привет", username="ivan")
        call = await tg.wait_for("sendMessage", chat_id=USER)
    assert call.params["text"] == "echo: привет"
    assert call.ok is True
    assert pushed.message_id is not None
    assert call.result["message_id"] == pushed.message_id + 1
    assert call.result["from"]["id"] == 123456
    assert [m.text for m in tg.sent_to(USER)] == ["echo: привет"]
    get_updates = tg.calls_of("getUpdates")
    assert get_updates[0].params["allowed_updates"] == ["message"]


async def test_dispatcher_answers_callback_and_edits(tg: FakeTelegram, bot: Bot) -> None:
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="vote:yes")]]
        )
        await message.answer("Helpful?", reply_markup=markup)

    @dp.callback_query(F.data.startswith("vote:"))
    async def vote(query: CallbackQuery) -> None:
        await query.answer("thanks")
        assert isinstance(query.message, Message)
        await query.message.edit_text("Thanks for the feedback")

    async with polling(dp, bot):
        tg.user_message(USER, "/start")
        sent = await tg.wait_for("sendMessage")
        assert sent.params["reply_markup"] == {
            "inline_keyboard": [[{"text": "Yes", "callback_data": "vote:yes"}]]
        }
        pushed = tg.callback(USER, "vote:yes", sent.result["message_id"])
        answer = await tg.wait_for("answerCallbackQuery")
        await tg.wait_for("editMessageText")
    assert answer.params == {"callback_query_id": pushed.callback_query_id, "text": "thanks"}
    history = tg.sent_to(USER)
    assert [(m.method, m.text) for m in history] == [
        ("sendMessage", "Helpful?"),
        ("editMessageText", "Thanks for the feedback"),
    ]
    assert history[0].callback_data == ["vote:yes"]
    current = tg.message(USER, sent.result["message_id"])
    assert current is not None
    assert "reply_markup" not in current


async def test_fail_next_429_is_retried_by_caller(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    tg.fail_next("sendMessage", code=429, retry_after=3)
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    message = await send_with_retry(bot, USER, "hi", fake_sleep)
    assert message.text == "hi"
    assert delays == [3]
    first, second = tg.calls_of("sendMessage")
    assert first.ok is False
    assert first.error == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert second.ok is True


async def test_block_user_raises_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    tg.block_user(USER)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(USER, "hello?")
    assert tg.sent_to(USER) == []


async def test_send_message_rejects_long_text(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(USER, "x" * 4097)
    message = await bot.send_message(USER, "x" * 4096)
    assert message.text is not None
    assert len(message.text) == 4096


async def test_send_message_rejects_long_callback_data(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="x", callback_data="d" * 65)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "pick", reply_markup=markup)


@pytest.mark.parametrize(
    "text",
    ["<b>bold", "<b>x</i>", "<foo>x</foo>", "a < b", "<span>x</span>"],
)
async def test_send_message_rejects_broken_html(tg: FakeTelegram, bot: Bot, text: str) -> None:
    tg.add_user(USER)
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(USER, text, parse_mode="HTML")


async def test_send_message_parses_html_entities(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    message = await bot.send_message(
        USER, '<b>Hi</b> &lt;3 <a href="https://x.org">link</a>', parse_mode="HTML"
    )
    assert message.text == "Hi <3 link"
    assert message.entities is not None
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 2),
        ("text_link", 6, 4),
    ]


async def test_send_message_rejects_unescaped_markdown_v2(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    with pytest.raises(TelegramBadRequest, match="reserved"):
        await bot.send_message(USER, "Done.", parse_mode="MarkdownV2")
    message = await bot.send_message(USER, "*Done*\\.", parse_mode="MarkdownV2")
    assert message.text == "Done."


async def test_send_message_to_unknown_chat_fails(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(999, "hi")


async def test_forum_topic_lifecycle(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(GROUP, title="Support desk")
    topic = await bot.create_forum_topic(GROUP, "Ivan #1001")
    message = await bot.send_message(
        GROUP, "new ticket", message_thread_id=topic.message_thread_id
    )
    assert message.message_thread_id == topic.message_thread_id
    assert message.is_topic_message is True
    await bot.edit_forum_topic(GROUP, topic.message_thread_id, name="Ivan (closed)")
    await bot.close_forum_topic(GROUP, topic.message_thread_id)
    await bot.reopen_forum_topic(GROUP, topic.message_thread_id)
    assert tg.topics(GROUP)[topic.message_thread_id].name == "Ivan (closed)"
    await bot.delete_forum_topic(GROUP, topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(GROUP, "again", message_thread_id=topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(GROUP, "unknown", message_thread_id=777)


async def test_group_message_in_topic_reaches_handler(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(GROUP)
    thread = tg.add_topic(GROUP, "Ticket")
    tg.set_member(GROUP, 7, "administrator")
    seen: list[Message] = []
    dp = Dispatcher()

    @dp.message(F.chat.id == GROUP)
    async def operator(message: Message) -> None:
        seen.append(message)
        await message.reply("ok")

    async with polling(dp, bot):
        tg.group_message(GROUP, 7, "answer", thread_id=thread)
        call = await tg.wait_for("sendMessage", chat_id=GROUP)
    assert seen[0].message_thread_id == thread
    assert seen[0].reply_to_message is not None
    assert seen[0].reply_to_message.forum_topic_created is not None
    assert call.result["message_thread_id"] == thread
    assert tg.sent_to(GROUP)[0].message_thread_id == thread
    member = await bot.get_chat_member(GROUP, 7)
    assert member.status == "administrator"
    admins = await bot.get_chat_administrators(GROUP)
    assert {a.user.id for a in admins} == {7, 123456}


async def test_copy_message_and_media_are_recorded(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_chat(GROUP)
    pushed = tg.user_message(USER, None, photo=True, caption="screenshot")
    assert pushed.message_id is not None
    copied = await bot.copy_message(GROUP, USER, pushed.message_id)
    document = BufferedInputFile(b"log line\n", filename="log.txt")
    await bot.send_document(GROUP, document, caption="logs")
    await bot.forward_message(GROUP, USER, pushed.message_id)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(GROUP, USER, 9999)
    history = tg.sent_to(GROUP)
    assert [(m.method, m.kind, m.text) for m in history] == [
        ("copyMessage", "photo", "screenshot"),
        ("sendDocument", "document", "logs"),
        ("forwardMessage", "photo", "screenshot"),
    ]
    assert history[0].message_id == copied.message_id
    upload = tg.calls_of("sendDocument")[0].params["document"]
    assert isinstance(upload, UploadedFile)
    assert (upload.filename, upload.data) == ("log.txt", b"log line\n")


async def test_edit_without_changes_is_rejected(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    message = await bot.send_message(USER, "same")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(text="same", chat_id=USER, message_id=message.message_id)
    await bot.delete_message(USER, message.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(USER, message.message_id)


async def test_reply_to_missing_message_is_rejected(tg: FakeTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(USER, "hi", reply_parameters=ReplyParameters(message_id=42))


async def test_commands_round_trip(tg: FakeTelegram, bot: Bot) -> None:
    scope = BotCommandScopeAllPrivateChats()
    commands = [BotCommand(command="start", description="Start")]
    await bot.set_my_commands(commands, scope=scope, language_code="ru")
    stored = await bot.get_my_commands(scope=scope, language_code="ru")
    assert [(c.command, c.description) for c in stored] == [("start", "Start")]
    assert await bot.get_my_commands() == []
    await bot.delete_my_commands(scope=scope, language_code="ru")
    assert await bot.get_my_commands(scope=scope, language_code="ru") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Name", description="x")])


async def test_get_updates_long_poll_and_offset(tg: FakeTelegram, bot: Bot) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await tg.wait_for("getUpdates")
    first = tg.user_message(USER, "one")
    updates = await poll
    assert loop.time() - started < 5
    assert [u.update_id for u in updates] == [first.update_id]
    second = tg.user_message(USER, "two")
    again = await bot.get_updates(offset=first.update_id + 1, timeout=0)
    assert [u.update_id for u in again] == [second.update_id]
    assert await bot.get_updates(offset=second.update_id + 1, timeout=0) == []


async def test_raw_http_params_are_decoded(tg: FakeTelegram) -> None:
    tg.add_user(USER)
    form = aiohttp.FormData()
    form.add_field("chat_id", str(USER))
    form.add_field("text", "123")
    form.add_field("reply_markup", '{"inline_keyboard": [[{"text": "a", "url": "https://a.b"}]]}')
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.base_url}/bot{TOKEN}/sendMessage", data=form) as resp,
    ):
        body = await resp.json()
    assert body["ok"] is True
    call = tg.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == USER
    assert call.params["text"] == "123"
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["url"] == "https://a.b"
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{tg.base_url}/bot1:WRONG/getMe") as resp,
    ):
        assert resp.status == 401
