"""The fault benchmark's counting rules: what counts as a lost or doubled message.

A real aiogram Bot plays the support bot against the fake Bot API; the ledger of
benchmarks/fault_ledger.py must count what a user or an operator would notice.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from fault_ledger import Ledger, RecordingTelegram

TOKEN = "123456:TEST-TOKEN"
STAFF = -100500
USER = 4242
OPERATOR = 777


@pytest.fixture
async def tg() -> AsyncIterator[RecordingTelegram]:
    async with RecordingTelegram(token=TOKEN) as server:
        server.add_chat(STAFF, is_forum=True, title="Staff")
        yield server


@pytest.fixture
async def bot(tg: RecordingTelegram) -> AsyncIterator[Bot]:
    bot = tg.make_bot(parse_mode="HTML")
    yield bot
    await bot.session.close()


async def _card(bot: Bot, ticket: int, user: int, quoted: str = "") -> int:
    """A ticket's topic with its card, as the desk posts them; returns the topic."""
    topic = await bot.create_forum_topic(STAFF, f"#{ticket} · Ivan · question")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data=f"k:tk:{ticket}:")]]
    )
    await bot.send_message(
        STAFF,
        f'#{ticket} <a href="tg://openmessage?user_id={user}">profile</a>\n{quoted}',
        message_thread_id=topic.message_thread_id,
        reply_markup=markup,
    )
    return topic.message_thread_id


async def test_ledger_question_needs_its_answer_once(tg: RecordingTelegram, bot: Bot) -> None:
    ledger = Ledger(tg, STAFF)
    ledger.user_says(USER, "question", "my card was declined", article="Card payment declined")
    ledger.user_says(USER, "question", "how to delete my account", article="Delete your profile")
    ledger.user_says(USER, "question", "change my email", article="Change your email address")
    await bot.send_message(USER, "<b>Card payment declined</b>\n\nCall the bank.")
    await bot.send_message(USER, "<b>Card payment declined</b>\n\nCall the bank.")
    await bot.send_message(USER, "Maybe one of these?\n\n1. Delete your profile\n2. Other")
    # Naming an article elsewhere in a list does not answer a question about it.
    await bot.send_message(USER, "Maybe one of these?\n\n1. Other\n2. Change your email address")

    tally = ledger.tally()

    assert (tally.messages, tally.lost, tally.dup_answers) == (3, 1, 1)
    assert tally.lost_by_kind == {"question": 1}


async def test_ledger_followup_counts_only_in_the_staff_group(
    tg: RecordingTelegram, bot: Bot
) -> None:
    ledger = Ledger(tg, STAFF)
    relayed = ledger.user_says(USER, "followup", "any news on R1?")
    quoted = ledger.user_says(USER, "followup", "the parcel <box> R2")
    only_told = ledger.user_says(USER, "followup", "still waiting R3")
    topic = await _card(bot, 1, USER, quoted="👤 the parcel &lt;box&gt; R2")
    for _ in range(2):
        await bot.copy_message(STAFF, USER, relayed.message_id, message_thread_id=topic)
    await bot.send_message(USER, "I passed your question to a person.")

    tally = ledger.tally()

    assert quoted.message_id != only_told.message_id
    assert (tally.lost, tally.dup_relays) == (1, 1)
    assert tally.lost_examples == [f"user {USER} followup 'still waiting R3'"]


async def test_ledger_matches_handoff_replies_to_requests(tg: RecordingTelegram, bot: Bot) -> None:
    ledger = Ledger(tg, STAFF)
    ledger.user_says(USER, "person", "/operator")
    await bot.send_message(USER, "I passed your question to a person.")
    await bot.send_message(USER, "Your question is already being handled.")
    ledger.user_says(USER + 1, "person", "/operator")  # never answered

    tally = ledger.tally()

    assert (tally.lost, tally.dup_handoff_replies, tally.dup_replies) == (1, 1, 1)


async def test_ledger_operator_reply_must_reach_the_user_once(
    tg: RecordingTelegram, bot: Bot
) -> None:
    ledger = Ledger(tg, STAFF)
    ledger.user_says(USER, "person", "/operator")
    topic = await _card(bot, 1, USER)
    ledger.operator_says(OPERATOR, USER, topic, "hello, looking")
    ledger.operator_says(OPERATOR, USER, topic, "found it")
    ledger.operator_says(OPERATOR, USER, topic, "done")
    first, second, _ = ledger.replies
    await bot.copy_message(USER, STAFF, first.message_id)
    await bot.copy_message(USER, STAFF, second.message_id)
    await bot.copy_message(USER, STAFF, second.message_id)

    tally = ledger.tally()

    assert (tally.replies, tally.replies_lost, tally.dup_operator_replies) == (3, 1, 1)


async def test_ledger_counts_second_topics_and_orphans(tg: RecordingTelegram, bot: Bot) -> None:
    ledger = Ledger(tg, STAFF)
    await _card(bot, 1, USER)
    await _card(bot, 1, USER)  # the same ticket again, after a restart
    await bot.create_forum_topic(STAFF, "#2 · Olga · question")  # its card never came
    await _card(bot, 3, USER)  # a second ticket for the same user

    tally = ledger.tally()

    assert (tally.topics, tally.dup_topics, tally.orphan_topics) == (4, 1, 1)
    assert tally.dup_tickets == 1
    assert ledger.tally(tickets_per_user={USER: 1, USER + 1: 3}).dup_tickets == 2


async def test_ledger_ignores_what_the_bot_did_before_it(tg: RecordingTelegram, bot: Bot) -> None:
    tg.add_user(USER)
    await bot.send_message(USER, "I passed your question to a person.")
    ledger = Ledger(tg, STAFF, since=time.monotonic())
    ledger.user_says(USER, "person", "/operator")

    tally = ledger.tally()

    assert (tally.lost, tally.dup_handoff_replies) == (1, 0)
