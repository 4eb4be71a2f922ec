"""End to end, as a user sees it: the real bot over the fake Telegram server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from fakes import BotHarness, all_events, running_bot
from faketg import FakeTelegram, SentMessage
from supportbot.domain.events import EventKind, HandoffReason

USER = 1001


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[BotHarness]:
    async with running_bot(tg) as harness:
        yield harness


async def test_bot_answers_a_confident_question_with_feedback_buttons(bot: BotHarness) -> None:
    sent = await bot.say(USER, "my card was declined", language_code="en")
    assert len(sent) == 1
    assert "Card payment declined" in (sent[0].text or "")
    labels = [b["text"] for row in sent[0].buttons for b in row]
    assert labels == ["👍 This helped", "👎 Didn't help", "🙋 Talk to a person"]
    assert all(len(d.encode()) < 64 for d in sent[0].callback_data)


def _labels(message: SentMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def test_bot_suggests_up_to_three_articles_when_unsure(bot: BotHarness) -> None:
    sent = await bot.say(USER, "problem with my account", language_code="en")
    assert len(sent) == 1
    assert (sent[0].text or "").startswith("Maybe one of these?")
    assert _labels(sent[0]) == [
        "Delete your profile",
        "Reset your password",
        "Notifications do not arrive",
        "None of these: talk to a person",
    ]
    opened = await bot.press(USER, sent[0], "Delete your profile")
    assert "Delete your profile" in (opened[0].text or "")
    assert "👍 This helped" in _labels(opened[0])


async def test_bot_hands_off_when_nothing_fits(bot: BotHarness) -> None:
    sent = await bot.say(USER, "qwzx blorf teapot", language_code="en")
    assert len(sent) == 1
    assert "passed your question to a person" in (sent[0].text or "")
    assert [r.reason for r in bot.handoff.requests] == [HandoffReason.LOW_CONFIDENCE]
    assert bot.handoff.requests[0].subject == "qwzx blorf teapot"


async def test_bot_walks_a_guide_to_the_end_and_closes_as_solved(bot: BotHarness) -> None:
    (answer,) = await bot.say(USER, "the app keeps crashing", language_code="en")
    assert "📋 Show me step by step" in _labels(answer)
    sent = await bot.press(USER, answer, "step by step")
    for number in range(1, 6):
        (step,) = sent
        assert f"Step {number} of 5" in (step.text or "")
        assert _labels(step) == ["✅ Done", "❌ It didn't work", "🙋 Talk to a person"]
        sent = await bot.press(USER, step, "Done")
    (question,) = sent
    assert question.text == "That was the last step. Did it solve the problem?"
    (closing,) = await bot.press(USER, question, "Yes")
    assert closing.text == "Glad I could help! Write again any time."
    kinds = [e.kind for e in (await all_events(bot.events))]
    assert kinds.count(EventKind.STEP_DONE) == 5
    closed = [e for e in (await all_events(bot.events)) if e.kind is EventKind.CONVERSATION_CLOSED]
    assert closed[-1].data == {"outcome": "self_service"}
    feedback = await bot.repository.feedback(f"{USER}-1")
    assert [(f.article_id, f.helpful) for f in feedback] == [("en/app/reinstall", True)]
    assert bot.handoff.requests == []


async def test_bot_hands_off_a_failed_step_with_the_step_attached(bot: BotHarness) -> None:
    (answer,) = await bot.say(USER, "the app keeps crashing", language_code="en")
    (step1,) = await bot.press(USER, answer, "step by step")
    (step2,) = await bot.press(USER, step1, "Done")
    (handoff,) = await bot.press(USER, step2, "didn't work")
    assert "passed your question to a person" in (handoff.text or "")
    (request,) = bot.handoff.requests
    assert request.reason is HandoffReason.STEP_FAILED
    assert request.article_id == "en/app/reinstall"
    assert request.failed_step == 2
    assert request.subject == "the app keeps crashing"
    assert any(e.text == "step 2 did not work" for e in request.transcript)


async def test_bot_answers_a_question_mid_guide_and_keeps_the_place(bot: BotHarness) -> None:
    (answer,) = await bot.say(USER, "the app keeps crashing", language_code="en")
    (step1,) = await bot.press(USER, answer, "step by step")
    (_step2,) = await bot.press(USER, step1, "Done")
    side = await bot.say(USER, "my card was declined", language_code="en")
    assert "Card payment declined" in (side[0].text or "")
    assert "We stopped at step 2" in (side[-1].text or "")
    (step3,) = await bot.say(USER, "далее", language_code="en")
    assert "Step 3 of 5" in (step3.text or "")
    (again,) = await bot.say(USER, "далше", language_code="en")  # a typo still continues
    assert "Step 4 of 5" in (again.text or "")


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("i want to tlak to a humna", "en", "passed your question to a person"),
        ("позавите аператора пожалуйста", "ru", "передал ваш вопрос оператору"),
    ],
)
async def test_bot_hands_off_when_asked_for_a_person_in_words(
    bot: BotHarness, text: str, lang: str, expected: str
) -> None:
    (sent,) = await bot.say(USER, text, language_code=lang)
    assert expected in (sent.text or "")
    assert [r.reason for r in bot.handoff.requests] == [HandoffReason.USER_ASKED]


async def test_bot_hands_off_on_operator_command_and_button(bot: BotHarness) -> None:
    (answer,) = await bot.say(USER, "my card was declined", language_code="en")
    (handoff,) = await bot.press(USER, answer, "Talk to a person")
    assert "passed your question to a person" in (handoff.text or "")
    (again,) = await bot.say(USER, "/operator", language_code="en")
    assert again.text == "Your question is already being handled: no need to send it again."
    assert len(bot.handoff.requests) == 1


async def test_bot_stores_feedback_and_offers_the_next_candidate(bot: BotHarness) -> None:
    (answer,) = await bot.say(USER, "my card was declined", language_code="en")
    (others,) = await bot.press(USER, answer, "Didn't help")
    assert (others.text or "").startswith("Maybe one of these?")
    assert "Card payment declined" not in _labels(others)
    assert _labels(others)[-1] == "None of these: talk to a person"
    (handoff,) = await bot.press(USER, others, "None of these")
    assert "passed your question to a person" in (handoff.text or "")
    feedback = await bot.repository.feedback(f"{USER}-1")
    assert [(f.article_id, f.helpful) for f in feedback] == [("en/payments/card-declined", False)]
    assert bot.handoff.requests[0].reason is HandoffReason.NOT_HELPFUL
    assert "en/payments/card-declined" in bot.handoff.requests[0].suggested_articles


async def test_bot_does_not_repeat_itself_for_a_repeated_question(bot: BotHarness) -> None:
    # A question the bot answered itself is answered again (issue 12: "already being
    # handled" with no ticket); one a person has is not sent to them twice.
    (first,) = await bot.say(USER, "my card was declined", language_code="en")
    (repeat,) = await bot.say(USER, "My card was declined!!", language_code="en")
    assert repeat.text == first.text
    await bot.say(USER, "qwzx blorf teapot", language_code="en")
    (again,) = await bot.say(USER, "qwzx blorf teapot", language_code="en")
    assert again.text == "Your question is already being handled: no need to send it again."
    assert len(bot.handoff.requests) == 1


async def test_bot_offers_an_article_while_the_user_waits(bot: BotHarness) -> None:
    await bot.say(USER, "/operator", language_code="en")
    (offer,) = await bot.say(USER, "my card was declined", language_code="en")
    assert (offer.text or "").startswith("While you wait")
    assert _labels(offer) == ["✅ This solved it", "Keep waiting"]
    (done,) = await bot.press(USER, offer, "This solved it")
    assert done.text == "Glad I could help! Write again any time."
    assert [(c.user_id, c.solved) for c in bot.handoff.cancellations] == [(USER, True)]
    assert await bot.handoff.open_ticket(USER) is None


async def test_bot_notes_matches_for_the_operator_while_waiting(bot: BotHarness) -> None:
    await bot.say(USER, "/operator", language_code="en")
    (noted,) = await bot.say(USER, "something about my account", language_code="en")
    assert noted.text == "Added to your request: the operator will see it."
    (forwarded,) = bot.handoff.forwarded
    assert forwarded.message.text == "something about my account"
    assert forwarded.message.message_ids  # the operator gets the user's own message
    assert "en/profile/delete" in forwarded.suggestions


async def test_bot_splits_a_long_article_under_the_limit(bot: BotHarness) -> None:
    sent = await bot.say(USER, "privacy please", language_code="en")
    assert len(sent) > 1
    assert all(len(m.text or "") <= 4096 for m in sent)
    assert [bool(m.buttons) for m in sent] == [False] * (len(sent) - 1) + [True]
    assert "&" in "".join(m.text or "" for m in sent)  # escaped on the way, shown as is
    assert all(len(d.encode()) < 64 for d in sent[-1].callback_data)


async def test_bot_asks_for_words_on_a_photo_without_caption(bot: BotHarness) -> None:
    (sent,) = await bot.say(USER, photo=True, language_code="en")
    assert sent.text == (
        "I can only read text. Please describe the problem in words, or talk to a person."
    )
    assert _labels(sent) == ["🙋 Talk to a person"]
    for kind in ("voice", "sticker", "document"):
        replies = await bot.say(USER, language_code="en", **{kind: True})
        assert len(replies) == 1


async def test_bot_takes_a_photo_caption_as_the_question(bot: BotHarness) -> None:
    (sent,) = await bot.say(USER, photo=True, caption="card declined", language_code="en")
    assert "Card payment declined" in (sent.text or "")


async def test_bot_answers_an_album_once_by_its_caption(bot: BotHarness) -> None:
    before = len(bot.tg.sent_to(USER))
    parts = [
        bot.tg.user_message(
            USER,
            photo=True,
            caption="card declined" if i == 1 else None,
            media_group_id="a1",
            language_code="en",
        )
        for i in range(3)
    ]
    await bot.settle(parts[-1])
    (sent,) = bot.tg.sent_to(USER)[before:]
    assert "Card payment declined" in (sent.text or "")


async def test_bot_speaks_russian_and_english(bot: BotHarness) -> None:
    (ru,) = await bot.say(USER, "/start", language_code="ru", first_name="Иван")
    assert (ru.text or "").startswith("Здравствуйте, Иван!")
    (en,) = await bot.say(USER, "/lang", language_code="ru")
    assert en.text == "Language: English. Send /lang to switch back to Russian."
    (help_en,) = await bot.say(USER, "/help", language_code="ru")
    assert (help_en.text or "").startswith("What I can do")
    (answer,) = await bot.say(USER, "забыл пароль", language_code="ru")
    assert "Как восстановить пароль" in (answer.text or "")
    assert "👍 This helped" in _labels(answer)  # the chosen language, not the app's
    (back,) = await bot.say(USER, "/lang ru", language_code="ru")
    assert back.text == "Язык: русский. Отправьте /lang, чтобы вернуть английский."


async def test_bot_escapes_the_users_name(bot: BotHarness) -> None:
    (sent,) = await bot.say(USER, "/start", language_code="en", first_name="<b>&Bob")
    assert (sent.text or "").startswith("Hi, <b>&Bob!")  # shown literally, not as markup
