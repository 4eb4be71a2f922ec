"""Odd and hostile input in the staff group and on buttons: refused politely, no traceback,
nothing Telegram would reject."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desk_harness import OLGA, STAFF, DeskHarness, running_desk
from faketg import FakeTelegram, Pushed

USER = 1001
HANDOFF_TEXT = "qwzx blorf teapot"  # nothing matches: the bot hands off
STALE = {"This button is out of date.", "Эта кнопка устарела."}  # the presser's language


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[DeskHarness]:
    async with running_desk(tg, path=tmp_path / "bot.sqlite3") as harness:
        yield harness


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "data",
    [
        "k:ca:1:²",
        "k:cs:1:².0",
        "k:cs:1:0.99999999999999999999999",
        "k:tt:1:abc",
        "k:tt:1:²",
        "k:tk:99999999999999999999999:",
        "k:tk:-5:",
        "u:r:1:²",
        "u:r:1:99",
        "b:h:99999999999999999999999::0",
    ],
)
async def test_hostile_callback_data_is_a_stale_press(
    bot: DeskHarness, data: str, caplog: pytest.LogCaptureFixture
) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    presser = USER if data[0] in "ub" else OLGA
    chat = None if data[0] in "ub" else STAFF
    await bot.press(presser, "k:tk:1:", card.message_id, STAFF)
    before = len(bot.tg.calls_of("answerCallbackQuery"))
    await bot.press(presser, data, card.message_id, chat)
    answers = bot.tg.calls_of("answerCallbackQuery")[before:]
    assert len(answers) == 1
    assert answers[0].params.get("text") in STALE
    assert _errors(caplog) == []
    assert [c for c in bot.tg.calls if c.ok is False] == []


@pytest.mark.parametrize("args", ["²", "99999999999999999999999", "-0", "12a", "١٢"])
async def test_hostile_ban_argument_gets_the_usage(
    bot: DeskHarness, args: str, caplog: pytest.LogCaptureFixture
) -> None:
    sent = await bot.staff_says(OLGA, f"/ban {args}")
    assert [m.text for m in sent] == [
        "Usage: /ban in a ticket (or /ban <user id>); /unban <user id>."
    ]
    assert _errors(caplog) == []
    assert [c for c in bot.tg.calls if c.ok is False] == []


async def test_hostile_canned_without_words_gets_the_usage(bot: DeskHarness) -> None:
    sent = await bot.staff_says(OLGA, "/t")
    assert [m.text for m in sent] == ["Usage: /t <words>, e.g. /t refund"]
    assert [c for c in bot.tg.calls if c.ok is False] == []


async def test_hostile_long_rating_comment_reaches_the_staff_cut(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    await bot.press(OLGA, "k:tk:1:", card.message_id, STAFF)
    await bot.press(OLGA, "k:cl:1:", card.message_id, STAFF)
    await bot.press(OLGA, "k:cn:1:", card.message_id, STAFF)
    ask = bot.tg.sent_to(USER)[-1]
    await bot.press(USER, ask.callback_data[0], ask.message_id)
    rating = bot.tg.sent_to(USER)[-1]
    await bot.press(USER, rating.callback_data[4], rating.message_id)
    await bot.say(USER, "<&>" * 1365)  # 4,095 characters, three times longer escaped
    rated = [m for m in bot.tg.sent_to(STAFF) if "Rating: 5/5" in (m.text or "")]
    assert "<&><&><&>" in (rated[-1].text or "")
    assert [c for c in bot.tg.calls if c.ok is False] == []


async def test_membership_change_takes_effect_at_once(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    await bot.staff_says(OLGA, "/queue")  # Olga is a member now, and remembered as one
    bot.tg.set_member(STAFF, OLGA, "left")
    olga = {"id": OLGA, "is_bot": False, "first_name": "Olga"}
    left = bot.tg.push_update(
        {
            "chat_member": {
                "chat": {"id": STAFF, "type": "supergroup", "title": "Staff", "is_forum": True},
                "from": olga,
                "date": 1_770_000_000,
                "old_chat_member": {"status": "member", "user": olga},
                "new_chat_member": {"status": "left", "user": olga},
            }
        }
    )
    await bot.settle(Pushed(left, None, None))
    await bot.press(OLGA, "k:tk:1:", card.message_id, STAFF)
    (answer,) = bot.tg.calls_of("answerCallbackQuery")
    assert "Only members of the staff group" in answer.params["text"]
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert ticket.operator_id is None


async def test_hostile_second_taps_send_no_edit_telegram_refuses(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    await bot.press(OLGA, "k:tk:1:", card.message_id, STAFF)
    await bot.press(OLGA, "k:tr:1:", card.message_id, STAFF)  # the colleague picker
    await bot.press(OLGA, "k:tr:1:", card.message_id, STAFF)  # again: it is shown already
    await bot.press(OLGA, "k:bk:1:", card.message_id, STAFF)
    joined = next(m for m in bot.tg.sent_to(USER) if m.buttons)
    await bot.press(USER, joined.callback_data[0], joined.message_id)  # solved
    await bot.press(USER, joined.callback_data[0], joined.message_id)  # and again
    assert [c for c in bot.tg.calls if c.ok is False] == []
