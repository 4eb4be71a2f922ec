"""The operator desk end to end: the real bot, the staff group and a user, on FakeTelegram."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desk_harness import OLGA, PAVEL, STAFF, DeskHarness, running_desk
from faketg import FakeTelegram
from supportbot.domain.handoff import OpenTicket

USER = 1001
HANDOFF_TEXT = "qwzx blorf teapot"  # nothing matches: the bot hands off


@pytest.fixture
async def bot(tg: FakeTelegram, tmp_path: Path) -> AsyncIterator[DeskHarness]:
    async with running_desk(tg, path=tmp_path / "bot.sqlite3") as harness:
        yield harness


def _labels(message: object) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]  # type: ignore[attr-defined]


async def _take(bot: DeskHarness, operator: int, ticket_id: int = 1) -> None:
    card = bot.card(ticket_id)
    await bot.press(operator, f"k:tk:{ticket_id}:", card.message_id, STAFF)


async def test_staff_handoff_creates_a_topic_with_the_card(bot: DeskHarness) -> None:
    (reply,) = await bot.say(USER, HANDOFF_TEXT, username="ivan_k")
    assert "number 1 in the queue" in (reply.text or "")
    topics = bot.tg.topics(STAFF)
    assert [t.name for t in topics.values()] == [f"#1 · Ivan · {HANDOFF_TEXT}"]
    card = bot.card(1)
    (thread,) = topics
    assert card.message_thread_id == thread
    text = card.text or ""
    assert "Ivan (@ivan_k) · en" in text
    assert f"👤 {HANDOFF_TEXT}" in text
    assert "waiting in the queue" in text
    assert _labels(card) == ["✋ Take", "✅ Close"]


async def test_staff_no_topic_without_a_real_handoff(bot: DeskHarness) -> None:
    await bot.say(USER, "my card was declined")  # answered by the bot
    assert bot.tg.topics(STAFF) == {}


async def test_staff_operator_takes_and_replies_and_the_user_answers(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    notices = bot.tg.sent_to(USER)
    assert notices[-1].text == "An operator has joined the conversation and will answer here."
    assert _labels(notices[-1]) == ["✅ My problem is solved"]
    assert "with Olga" in (bot.card(1).text or "")
    before = len(bot.tg.sent_to(USER))
    await bot.staff_says(OLGA, "Hello! Let me check.", thread_id=thread)
    (copy,) = bot.tg.sent_to(USER)[before:]
    assert copy.method == "copyMessage"
    assert copy.text == "Hello! Let me check."
    await bot.say(USER, "thanks, I am waiting")
    relayed = [m for m in bot.staff_messages(thread) if m.method == "copyMessage"]
    assert [m.text for m in relayed] == ["thanks, I am waiting"]
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert ticket.first_response_at is not None


async def test_staff_internal_notes_stay_in_the_group(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    before = len(bot.tg.sent_to(USER))
    await bot.staff_says(OLGA, "// looks like a bank issue", thread_id=thread)
    await bot.staff_says(OLGA, "/note check the logs", thread_id=thread)
    assert bot.tg.sent_to(USER)[before:] == []


async def test_staff_media_from_the_user_is_copied(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    await bot.say(USER, photo=True)
    await bot.say(USER, voice=True)
    await bot.say(USER, document=True)
    await bot.say(USER, sticker=True)
    kinds = [m.kind for m in bot.staff_messages(thread) if m.method == "copyMessage"]
    assert kinds == ["photo", "voice", "document", "sticker"]


async def test_staff_agent_assist_posts_suggestions_and_one_tap_sends(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    await bot.say(USER, "also my card was declined, refund please")
    assist = [m for m in bot.staff_messages(thread) if (m.text or "").startswith("💡")]
    assert assist
    labels = _labels(assist[-1])
    assert "📄 Card payment declined" in labels
    assert "💬 Refund approved" in labels
    data = assist[-1].callback_data[labels.index("📄 Card payment declined")]
    before = len(bot.tg.sent_to(USER))
    await bot.press(OLGA, data, assist[-1].message_id, STAFF)
    sent = bot.tg.sent_to(USER)[before:]
    assert "Card payment declined" in (sent[0].text or "")


async def test_staff_canned_reply_by_words_fills_placeholders(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    (found,) = await bot.staff_says(OLGA, "/t greet", thread_id=thread)
    assert _labels(found) == ["💬 Greeting"]
    before = len(bot.tg.sent_to(USER))
    await bot.press(OLGA, found.callback_data[0], found.message_id, STAFF)
    (sent,) = bot.tg.sent_to(USER)[before:]
    assert sent.text == "Hi Ivan! This is the support team."


async def test_staff_close_with_category_and_rating(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    await _take(bot, OLGA)
    card = bot.card(1)
    await bot.press(OLGA, "k:cl:1:", card.message_id, STAFF)
    picker = bot.tg.message(STAFF, card.message_id)
    assert picker is not None
    rows = picker["reply_markup"]["inline_keyboard"]
    assert [r[0]["text"] for r in rows[:3]] == ["payments", "account", "other"]
    await bot.press(OLGA, "k:ca:1:0", card.message_id, STAFF)  # payments -> subcategories
    await bot.press(OLGA, "k:cs:1:0.1", card.message_id, STAFF)  # refunds
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert (ticket.category, ticket.subcategory) == ("payments", "refunds")
    assert bot.tg.topics(STAFF)[ticket.topic_id or 0].closed  # the topic is closed
    ask = bot.tg.sent_to(USER)[-1]
    assert ask.text == "Your request has been closed. Was your problem solved?"
    await bot.press(USER, ask.callback_data[0], ask.message_id)  # yes
    rating = bot.tg.sent_to(USER)[-1]
    assert _labels(rating) == ["1", "2", "3", "4", "5"]
    await bot.press(USER, rating.callback_data[4], rating.message_id)  # 5
    assert (await bot.say(USER, "great service"))[-1].text == "Thank you for your feedback!"
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert (ticket.solved, ticket.rating, ticket.comment) == (True, 5, "great service")


async def test_staff_user_presses_my_problem_is_solved(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    await _take(bot, OLGA)
    joined = bot.tg.sent_to(USER)[-1]
    await bot.press(USER, joined.callback_data[0], joined.message_id)
    assert await bot.desk.open_ticket(USER) is None
    assert _labels(bot.tg.sent_to(USER)[-1]) == ["1", "2", "3", "4", "5"]


async def test_staff_two_operators_taking_at_once(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    first = bot.tg.callback(OLGA, "k:tk:1:", card.message_id, STAFF)
    second = bot.tg.callback(PAVEL, "k:tk:1:", card.message_id, STAFF)
    await bot.settle(max(first, second, key=lambda p: p.update_id))
    answers = {
        c.params["callback_query_id"]: c.params for c in bot.tg.calls_of("answerCallbackQuery")
    }
    refused = [a for a in answers.values() if "already taken" in (a.get("text") or "")]
    assert len(refused) == 1
    joined = [m for m in bot.tg.sent_to(USER) if "joined" in (m.text or "")]
    assert len(joined) == 1


async def test_staff_non_member_is_refused(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    bot.tg.set_member(STAFF, 999, "left")
    await bot.press(999, "k:tk:1:", card.message_id, STAFF)
    (answer,) = bot.tg.calls_of("answerCallbackQuery")
    assert "Only members of the staff group" in answer.params["text"]
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert ticket.operator_id is None


async def test_staff_ban_silences_the_user(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await bot.staff_says(OLGA, "/ban", thread_id=thread)
    staff_before = len(bot.tg.sent_to(STAFF))
    first = await bot.say(USER, "hello??")
    second = await bot.say(USER, "HELLO")
    assert [m.text for m in first] == [
        "Sorry, your messages can no longer be passed to our operators."
    ]
    assert second == []
    assert len(bot.tg.sent_to(STAFF)) == staff_before


async def test_staff_queue_command(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (reply,) = await bot.staff_says(OLGA, "/queue")
    assert (reply.text or "").startswith("📋 Queue: 1 waiting")


async def test_staff_capacity_two_queues_the_third_until_one_closes(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with running_desk(tg, path=tmp_path / "b.sqlite3", capacity=2, assignment="auto") as bot:
        await bot.staff_says(OLGA, "/online")
        for user in (1001, 1002):
            (assigned,) = await bot.say(user, HANDOFF_TEXT)
            assert "an operator is on it" in (assigned.text or "")
        (queued,) = await bot.say(1003, HANDOFF_TEXT)
        assert "number 1 in the queue" in (queued.text or "")
        card = bot.card(1)
        await bot.press(OLGA, "k:ca:1:2", card.message_id, STAFF)  # "other": no subcategories
        assert "joined" in (bot.tg.sent_to(1003)[-1].text or "")


async def test_staff_reply_mode_routes_by_the_card(tg: FakeTelegram, tmp_path: Path) -> None:
    async with running_desk(tg, path=tmp_path / "r.sqlite3", forum=False) as bot:
        await bot.say(USER, HANDOFF_TEXT)
        assert bot.tg.topics(STAFF) == {}
        card = bot.card(1)
        assert card.message_thread_id is None
        await bot.press(OLGA, "k:tk:1:", card.message_id, STAFF)
        before = len(bot.tg.sent_to(USER))
        await bot.staff_says(OLGA, "Hi from reply mode", reply_to=card.message_id)
        assert [m.text for m in bot.tg.sent_to(USER)[before:]] == ["Hi from reply mode"]
        await bot.say(USER, "ok!")
        copy = [m for m in bot.tg.sent_to(STAFF) if m.method == "copyMessage"][-1]
        assert copy.text == "ok!"
        # Replying to the relayed copy reaches the user too.
        await bot.staff_says(OLGA, "second answer", reply_to=copy.message_id)
        assert bot.tg.sent_to(USER)[-1].text == "second answer"


async def test_staff_restart_keeps_open_tickets(tg: FakeTelegram, tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite3"
    async with running_desk(tg, path=path) as bot:
        await bot.say(USER, HANDOFF_TEXT)
        await _take(bot, OLGA)
        (thread,) = bot.tg.topics(STAFF)
    async with running_desk(tg, path=path, add_chat=False) as bot:
        assert (await bot.desk.open_ticket(USER)) == OpenTicket(1, waiting=False)
        await bot.say(USER, "are you there after the restart?")
        relayed = [m for m in bot.staff_messages(thread) if m.method == "copyMessage"]
        assert relayed[-1].text == "are you there after the restart?"
        await bot.staff_says(OLGA, "yes, still here", thread_id=thread)
        assert bot.tg.sent_to(USER)[-1].text == "yes, still here"


async def test_staff_deleted_topic_is_recreated(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    await _take(bot, OLGA)
    (thread,) = bot.tg.topics(STAFF)
    bot.tg.delete_topic(STAFF, thread)
    await bot.say(USER, "hello again")
    live = [t for t, topic in bot.tg.topics(STAFF).items() if not topic.deleted]
    assert len(live) == 1
    assert live[0] != thread
    relayed = [m for m in bot.staff_messages(live[0]) if m.method == "copyMessage"]
    assert [m.text for m in relayed] == ["hello again"]


async def test_staff_outside_working_hours(tg: FakeTelegram, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    today = datetime.now(UTC).date()  # a holiday today (and tomorrow, near midnight)
    async with running_desk(
        tg,
        path=tmp_path / "h.sqlite3",
        working_hours={day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        holidays=[today, today + timedelta(days=1)],
    ) as bot:
        (reply,) = await bot.say(USER, HANDOFF_TEXT)
        assert "offline now and will answer when they are back" in (reply.text or "")
        assert bot.card(1)  # the staff see it; it waits for the morning
        # The bot keeps suggesting articles meanwhile.
        sent = await bot.say(USER, "my card was declined")
        assert any("Card payment declined" in (m.text or "") for m in sent)


async def test_staff_edits_are_relayed_both_ways(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    pushed = bot.tg.user_message(USER, "my order is 1234", language_code="en")
    await bot.settle(pushed)
    staff_copy = [m for m in bot.staff_messages(thread) if m.method == "copyMessage"][-1]
    assert pushed.message_id is not None
    await bot.settle(bot.tg.edit(USER, pushed.message_id, "my order is 1243, sorry"))
    edited = bot.tg.message(STAFF, staff_copy.message_id)
    assert edited is not None
    assert edited["text"] == "my order is 1243, sorry"

    said = bot.tg.group_message(STAFF, OLGA, "I will chek it", thread_id=thread)
    await bot.settle(said)
    user_copy = bot.tg.sent_to(USER)[-1]
    assert said.message_id is not None
    await bot.settle(bot.tg.edit(STAFF, said.message_id, "I will check it"))
    fixed = bot.tg.message(USER, user_copy.message_id)
    assert fixed is not None
    assert fixed["text"] == "I will check it"


async def test_staff_group_unreachable_keeps_the_ticket_until_it_is_back(
    bot: DeskHarness,
) -> None:
    kicked = "Forbidden: bot was kicked from the supergroup chat"
    bot.tg.fail_next("*", 403, description=kicked, times=1000, chat_id=STAFF)
    (reply,) = await bot.say(USER, HANDOFF_TEXT)
    assert "number 1 in the queue" in (reply.text or "")  # the user is not turned away
    await bot.say(USER, "it is urgent, my money is stuck")
    assert bot.tg.topics(STAFF) == {}
    assert (await bot.desk.open_ticket(USER)) == OpenTicket(1, waiting=True)

    bot.tg.clear_faults()  # the bot is back in the group
    await bot.desk.tick()
    await bot.staff_desk.outbox.drain()
    (thread,) = bot.tg.topics(STAFF)
    assert bot.card(1).message_thread_id == thread
    relayed = [m.text for m in bot.staff_messages(thread) if m.method == "copyMessage"]
    assert relayed == ["it is urgent, my money is stuck"]


async def test_staff_group_429_is_waited_out(bot: DeskHarness) -> None:
    bot.tg.fail_next("createForumTopic", 429, retry_after=1, chat_id=STAFF)
    await bot.say(USER, HANDOFF_TEXT)
    assert len(bot.tg.calls_of("createForumTopic")) == 2
    assert bot.card(1)


async def test_staff_auto_assignment_gives_tickets_to_online_operators_only(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    async with running_desk(tg, path=tmp_path / "a.sqlite3", assignment="auto") as bot:
        (queued,) = await bot.say(1001, HANDOFF_TEXT)
        assert "number 1 in the queue" in (queued.text or "")  # nobody is online yet
        await bot.staff_says(PAVEL, "/online")
        assert "joined" in (bot.tg.sent_to(1001)[-1].text or "")
        assert "with Pavel" in (bot.card(1).text or "")
        await bot.staff_says(PAVEL, "/offline")
        (queued,) = await bot.say(1002, HANDOFF_TEXT)
        assert "number 1 in the queue" in (queued.text or "")


async def test_staff_transfer_to_a_colleague(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    await bot.staff_says(PAVEL, "/online")
    await _take(bot, OLGA)
    card = bot.card(1)
    await bot.press(OLGA, "k:tr:1:", card.message_id, STAFF)
    picker = bot.tg.message(STAFF, card.message_id)
    assert picker is not None
    labels = [b["text"] for row in picker["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Pavel" in label for label in labels)
    await bot.press(OLGA, f"k:tt:1:{PAVEL}", card.message_id, STAFF)
    assert "with Pavel" in (bot.card(1).text or "")
    ticket = await bot.desk.get(1)
    assert ticket is not None
    assert ticket.operator_id == PAVEL


async def test_staff_members_unknown_command_is_not_a_refusal(bot: DeskHarness) -> None:
    assert await bot.staff_says(OLGA, "/whatever") == []


async def test_desk_texts_exist_in_both_languages() -> None:
    from supportbot.desk.errors import REFUSALS
    from supportbot.domain.models import Lang
    from supportbot.telegram.texts import Texts

    texts = Texts.load("ru")
    assert texts.keys(Lang.RU) == texts.keys(Lang.EN)
    assert set(texts.refusals()) == set(REFUSALS)  # every refusal the desk raises has a text
    assert texts.staff("online").startswith("🟢")


async def test_staff_in_russian_for_a_russian_team(tg: FakeTelegram, tmp_path: Path) -> None:
    async with running_desk(tg, path=tmp_path / "ru.sqlite3", language="ru") as bot:
        await bot.say(USER, HANDOFF_TEXT)
        assert "в очереди" in (bot.card(1).text or "")
        (reply,) = await bot.staff_says(OLGA, "/queue")
        assert (reply.text or "").startswith("📋 Очередь: ждут 1")


async def test_staff_chatid_tells_the_id_to_configure(bot: DeskHarness) -> None:
    (reply,) = await bot.staff_says(OLGA, "/chatid")
    assert f"desk.staff_chat_id = {STAFF}" in (reply.text or "")
    assert "forum" in (reply.text or "")


async def test_staff_albums_stay_albums_both_ways(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    await _take(bot, OLGA)
    before_user = len(bot.tg.sent_to(USER))
    parts = [
        bot.tg.user_message(
            USER,
            caption="screenshots of the error" if i == 0 else None,
            photo=True,
            media_group_id="album-1",
            language_code="en",
        )
        for i in range(3)
    ]
    await bot.settle(parts[-1])  # the album's first part waits briefly for the others
    copies = [m for m in bot.staff_messages(thread) if m.method == "copyMessages"]
    assert [m.kind for m in copies] == ["photo", "photo", "photo"]
    groups = {bot.tg.message(STAFF, m.message_id)["media_group_id"] for m in copies}  # type: ignore[index]
    assert len(groups) == 1  # one album in the topic, not three photos
    # The bot answered the album once at most (not once per photo).
    assert len(bot.tg.sent_to(USER)[before_user:]) <= 1

    sent = [
        bot.tg.group_message(
            STAFF,
            OLGA,
            "the fixed settings" if i == 0 else "",
            thread_id=thread,
            photo=True,
            media_group_id="album-2",
        )
        for i in range(2)
    ]
    await bot.settle(sent[-1])
    to_user = [m for m in bot.tg.sent_to(USER) if m.method == "copyMessages"]
    assert [m.kind for m in to_user] == ["photo", "photo"]
    assert to_user[0].text == "the fixed settings"


async def test_staff_operators_are_never_flood_limited(tg: FakeTelegram, tmp_path: Path) -> None:
    async with running_desk(tg, path=tmp_path / "f.sqlite3", flood=(3, 60.0)) as bot:
        await bot.say(USER, HANDOFF_TEXT)
        (thread,) = bot.tg.topics(STAFF)
        await _take(bot, OLGA)
        before = len(bot.tg.sent_to(USER))
        for i in range(6):
            await bot.staff_says(OLGA, f"line {i}", thread_id=thread)
        assert [m.text for m in bot.tg.sent_to(USER)[before:]] == [f"line {i}" for i in range(6)]


async def test_staff_every_press_is_answered_exactly_once(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    card = bot.card(1)
    await _take(bot, OLGA)  # answered by the answer middleware, silently
    await bot.press(OLGA, "k:zz:1:", card.message_id, STAFF)  # an action nobody knows
    await bot.press(OLGA, "k:ca:1:9", card.message_id, STAFF)  # a category that is gone
    await bot.press(PAVEL, "k:tk:1:", card.message_id, STAFF)  # refused: Olga has it
    answers = [c.params for c in bot.tg.calls_of("answerCallbackQuery")]
    assert len(answers) == len({a["callback_query_id"] for a in answers}) == 4
    assert answers[0].get("text") is None
    stale = {"This button is out of date.", "Эта кнопка устарела."}  # the operator's language
    assert {a.get("text") for a in answers[1:3]} <= stale
    assert "already taken" in (answers[3].get("text") or "")


async def test_staff_topic_without_its_card_is_adopted_not_duplicated(bot: DeskHarness) -> None:
    # The topic is made, then its card cannot be posted (as if the bot died in between).
    refused = "Forbidden: bot was kicked from the supergroup chat"
    bot.tg.fail_next("sendMessage", 403, description=refused, times=1000, chat_id=STAFF)
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    bot.tg.clear_faults()
    await bot.desk.tick()
    await bot.staff_desk.outbox.drain()
    await bot.say(USER, "any news?")
    assert list(bot.tg.topics(STAFF)) == [thread]  # the same topic, adopted
    assert bot.card(1).message_thread_id == thread
    relayed = [m.text for m in bot.staff_messages(thread) if m.method == "copyMessage"]
    assert relayed == ["any news?"]


async def test_staff_take_and_reply_at_once_delivers_every_reply(bot: DeskHarness) -> None:
    await bot.say(USER, HANDOFF_TEXT)
    (thread,) = bot.tg.topics(STAFF)
    card = bot.card(1)
    before = len(bot.tg.sent_to(USER))
    bot.tg.callback(OLGA, "k:tk:1:", card.message_id, STAFF)
    pushed = [
        bot.tg.group_message(
            STAFF, OLGA, f"answer {i}", thread_id=thread, is_forum=True, first_name="Olga"
        )
        for i in range(6)
    ]
    await bot.settle(pushed[-1])
    texts = [m.text for m in bot.tg.sent_to(USER)[before:]]
    assert [t for t in texts if (t or "").startswith("answer")] == [
        f"answer {i}" for i in range(6)
    ]


async def test_staff_relay_pending_at_a_crash_is_delivered_after_restart(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with running_desk(tg, path=path) as first:
        await first.say(USER, HANDOFF_TEXT)
        (thread,) = tg.topics(STAFF)
        tg.fail_next("copyMessage", 502, times=1000, chat_id=STAFF)  # an outage, retried
        tg.user_message(USER, "my order number is 42", language_code="en")
        await tg.wait_for("copyMessage", chat_id=STAFF)
        await first.crash()
    tg.clear_faults()
    async with running_desk(tg, path=path, add_chat=False):
        await tg.wait_for(lambda c: c.method == "copyMessage" and c.ok is True, since=0)
    relayed = [
        m.text
        for m in tg.sent_to(STAFF)
        if m.method == "copyMessage" and m.message_thread_id == thread
    ]
    assert relayed == ["my order number is 42"]


async def test_staff_update_repeated_after_a_crash_relays_once(
    tg: FakeTelegram, tmp_path: Path
) -> None:
    path = tmp_path / "bot.sqlite3"
    async with running_desk(tg, path=path) as first:
        await first.say(USER, HANDOFF_TEXT)
        (thread,) = tg.topics(STAFF)
        await _take(first, OLGA)
        # Both sends go out, then the bot dies before it marks the updates done.
        await first.settle(tg.user_message(USER, "my order number is 42", language_code="en"))
        await first.staff_says(OLGA, "found it, refund sent", thread_id=thread)
        await first.db.connection.execute("UPDATE update_inbox SET done = 0")
        await first.db.connection.commit()
        await first.crash()
    async with running_desk(tg, path=path, add_chat=False) as second:
        await second.settle(tg.user_message(USER, "thanks!", language_code="en"))
    to_staff = [m.text for m in tg.sent_to(STAFF) if m.method == "copyMessage"]
    assert to_staff.count("my order number is 42") == 1
    to_user = [m.text for m in tg.sent_to(USER)]
    assert to_user.count("found it, refund sent") == 1
