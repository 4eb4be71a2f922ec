"""The conversation engine alone: a state machine over in-memory ports, no Telegram."""

from __future__ import annotations

import asyncio

import pytest

from fakes import ManualClock, ScriptedSuggester, all_events, make_conversation
from supportbot.conversation.replies import Act, Press, Say, UserInfo, article_key
from supportbot.conversation.state import Overrides, Treatment
from supportbot.domain.errors import StaleCallbackError
from supportbot.domain.events import EventKind, HandoffReason
from supportbot.domain.handoff import HandoffState, OpenTicket, UserMessage
from supportbot.domain.models import Lang

EN = UserInfo(1, "Ann", language_code="en")


class _Arms:
    def __init__(self, overrides: Overrides) -> None:
        self._overrides = overrides

    def treatment(self, user_id: int) -> Treatment:
        return Treatment(arms={"exp": "b"}, overrides=self._overrides)


async def test_engine_follow_up_may_get_the_article_just_shown() -> None:
    # Issue 12: every article shown was excluded, so the follow-up got unrelated ones.
    suggester = ScriptedSuggester()
    conversation, handoff, _ = make_conversation(suggester=suggester)
    first = await conversation.handle_text(EN, "my card was declined")
    assert first.messages[0].say is Say.ANSWER
    again = await conversation.handle_text(EN, "card declined again, what now")
    assert again.messages[0].say is Say.ANSWER
    assert again.messages[0].article is not None
    assert again.messages[0].article.id == "en/payments/card-declined"
    assert suggester.calls[1][1] == ()
    assert handoff.requests == []


async def test_engine_new_question_may_get_an_earlier_suggestion() -> None:
    conversation, handoff, _ = make_conversation()
    first = await conversation.handle_text(EN, "something about my account")
    assert first.messages[0].say is Say.SUGGEST
    third = first.messages[0].suggestions[2].article_id
    assert third == "en/notifications/missing"
    later = await conversation.handle_text(EN, "notifications stopped coming")
    assert later.messages[0].say is Say.ANSWER
    assert later.messages[0].article is not None
    assert later.messages[0].article.id == third
    assert handoff.requests == []


async def test_engine_leaves_out_what_the_user_rejected_for_the_question() -> None:
    suggester = ScriptedSuggester()
    conversation, _, _ = make_conversation(suggester=suggester)
    answer = await conversation.handle_text(EN, "my card was declined")
    key = article_key("en/payments/card-declined")
    after = await conversation.press(EN, Press(Act.NOT_HELPED, answer.conversation, key))
    assert after.messages[0].say is Say.SUGGEST
    assert "en/payments/card-declined" not in {s.article_id for s in after.messages[0].suggestions}
    again = await conversation.handle_text(EN, "the card is still declined")
    assert again.messages[0].say is Say.SUGGEST
    assert "en/payments/card-declined" not in {s.article_id for s in again.messages[0].suggestions}
    assert suggester.calls[-1][1] == ("en/payments/card-declined",)


async def test_engine_repeat_while_a_person_handles_it_is_not_sent_again() -> None:
    clock = ManualClock()
    conversation, handoff, _ = make_conversation(clock=clock)
    await conversation.handle_text(EN, "qwzx blorf teapot")
    assert len(handoff.requests) == 1
    repeat = await conversation.handle_text(EN, "qwzx blorf teapot")
    assert [m.say for m in repeat.messages] == [Say.ALREADY_HANDLING]
    assert [f.ticket_id for f in handoff.forwarded] == [1]  # the operator sees it too
    clock.advance(600)
    later = await conversation.handle_text(EN, "qwzx blorf teapot")
    assert later.messages[0].say is not Say.ALREADY_HANDLING


async def test_engine_repeat_of_a_question_the_bot_answered_is_answered_again() -> None:
    # Issue 12: "already being handled" although no ticket existed and the bot had answered.
    conversation, handoff, _ = make_conversation()
    await conversation.handle_text(EN, "my card was declined")
    repeat = await conversation.handle_text(EN, "my card was declined")
    assert repeat.messages[0].say is Say.ANSWER
    assert handoff.forwarded == []
    assert handoff.requests == []


async def test_engine_closes_an_idle_conversation_as_abandoned() -> None:
    clock = ManualClock()
    conversation, _, events = make_conversation(clock=clock)
    first = await conversation.handle_text(EN, "my card was declined")
    clock.advance(7 * 3600)
    second = await conversation.handle_text(EN, "how do i reset my password")
    assert second.conversation == first.conversation + 1
    closed = [e for e in (await all_events(events)) if e.kind is EventKind.CONVERSATION_CLOSED]
    assert [e.data["outcome"] for e in closed] == ["abandoned"]


async def test_engine_records_events_with_arms_and_applies_overrides() -> None:
    conversation, _, events = make_conversation(
        experiments=_Arms(Overrides(step_by_step=False, max_suggestions=2))
    )
    reply = await conversation.handle_text(EN, "the app keeps crashing")
    (answer,) = reply.messages
    assert answer.inline_steps
    assert Act.GUIDE not in [a.act for a in answer.actions]
    assert all(e.arms == {"exp": "b"} for e in (await all_events(events)))
    kinds = [e.kind for e in (await all_events(events))]
    assert kinds == [
        EventKind.MESSAGE_RECEIVED,
        EventKind.DECISION,
        EventKind.SUGGESTION_SHOWN,
        EventKind.BOT_REPLY,
    ]
    decision = (await all_events(events))[1]
    assert decision.data["text"] == "the app keeps crashing"
    assert decision.data["decision"] == "answer"


async def test_engine_does_not_hand_off_an_unknown_question_mid_guide() -> None:
    conversation, handoff, _ = make_conversation()
    reply = await conversation.handle_text(EN, "the app keeps crashing")
    await conversation.press(
        EN, Press(Act.GUIDE, reply.conversation, article_key("en/app/reinstall"))
    )
    side = await conversation.handle_text(EN, "qwzx blorf teapot")
    # A new question: not "nothing more on this", which would imply an earlier answer.
    assert [m.say for m in side.messages] == [Say.NOT_FOUND, Say.GUIDE_RESUME]
    assert handoff.requests == []


async def test_engine_typed_no_after_the_last_step_hands_off_with_the_step() -> None:
    conversation, handoff, _ = make_conversation()
    reply = await conversation.handle_text(EN, "forgot my password")
    key = article_key("en/account/reset-password")
    await conversation.press(EN, Press(Act.GUIDE, reply.conversation, key))
    for step in (1, 2, 3):
        await conversation.press(EN, Press(Act.STEP_DONE, reply.conversation, key, step))
    final = await conversation.handle_text(EN, "нет")
    assert final.messages[0].say is Say.HANDOFF
    (request,) = handoff.requests
    assert (request.reason, request.failed_step) == (HandoffReason.STEP_FAILED, 3)


async def test_engine_button_of_a_removed_article_is_stale() -> None:
    suggester = ScriptedSuggester()
    conversation, _, _ = make_conversation(suggester=suggester)
    reply = await conversation.handle_text(EN, "my card was declined")
    suggester.remove("en/payments/card-declined")
    with pytest.raises(StaleCallbackError):
        await conversation.press(
            EN, Press(Act.HELPED, reply.conversation, article_key("en/payments/card-declined"))
        )


async def test_engine_serialises_concurrent_messages_of_one_user() -> None:
    conversation, _, _ = make_conversation(suggester=ScriptedSuggester(delay_s=0.05))
    replies = await asyncio.gather(
        conversation.handle_text(EN, "my card was declined"),
        conversation.handle_text(EN, "how do i reset my password"),
    )
    assert {r.conversation for r in replies} == {1}


async def test_engine_language_follows_telegram_until_switched() -> None:
    conversation, _, _ = make_conversation()
    ru = UserInfo(2, "Иван", language_code="ru")
    assert (await conversation.start(ru)).lang is Lang.RU
    assert (await conversation.start(UserInfo(3, language_code="de"))).lang is Lang.EN
    assert (await conversation.set_language(ru)).lang is Lang.EN
    assert (await conversation.start(ru)).lang is Lang.EN


async def test_engine_queued_user_who_waits_keeps_the_ticket() -> None:
    conversation, handoff, _ = make_conversation()
    await conversation.ask_person(EN)
    assert handoff.requests[0].reason is HandoffReason.USER_ASKED
    offer = await conversation.handle_text(EN, "my card was declined")
    assert [f.ticket_id for f in handoff.forwarded] == [1]  # the operator sees it too
    assert offer.messages[0].say is Say.WAITING_OFFER
    key = article_key("en/payments/card-declined")
    kept = await conversation.press(EN, Press(Act.KEEP_WAITING, offer.conversation, key))
    assert [m.say for m in kept.messages] == [Say.KEEP_WAITING]
    assert (await handoff.open_ticket(1)) == OpenTicket(1, waiting=True)
    handoff.close(1)  # the operator closed it: the next message starts afresh
    fresh = await conversation.handle_text(EN, "forgot my password")
    assert fresh.conversation == offer.conversation + 1
    assert handoff.state is HandoffState.QUEUED


async def test_engine_greeting_gets_a_prompt_not_a_ticket() -> None:
    conversation, handoff, _ = make_conversation()
    hello = await conversation.handle_text(EN, "hello")
    thanks = await conversation.handle_text(EN, "thank you")
    assert [m.say for m in hello.messages] == [Say.SMALL_TALK_HELLO]
    assert [m.say for m in thanks.messages] == [Say.SMALL_TALK_THANKS]
    assert handoff.requests == []


async def test_engine_records_the_first_message_in_the_conversation_it_opens() -> None:
    conversation, _, events = make_conversation()
    first = await conversation.handle_text(EN, "my card was declined")
    await conversation.press(
        EN, Press(Act.HELPED, first.conversation, article_key("en/payments/card-declined"))
    )
    second = await conversation.handle_text(EN, "how do i reset my password")
    by_kind = [(e.kind, e.conversation_id) for e in (await all_events(events))]
    assert (EventKind.MESSAGE_RECEIVED, f"1-{first.conversation}") in by_kind
    assert (EventKind.MESSAGE_RECEIVED, f"1-{second.conversation}") in by_kind
    received = [e for e in (await all_events(events)) if e.kind is EventKind.MESSAGE_RECEIVED]
    decisions = [e for e in (await all_events(events)) if e.kind is EventKind.DECISION]
    assert [e.conversation_id for e in received] == [e.conversation_id for e in decisions]


async def test_engine_bare_yes_or_next_is_not_a_question_for_a_person() -> None:
    conversation, handoff, _ = make_conversation()
    for text in ("yes", "next", "ок"):
        reply = await conversation.handle_text(EN, text)
        assert [m.say for m in reply.messages] == [Say.CLARIFY], text
    assert handoff.requests == []


async def test_engine_typed_yes_accepts_the_offer_of_a_person() -> None:
    conversation, handoff, _ = make_conversation()
    answer = await conversation.handle_text(EN, "notifications stopped")  # one article only
    key = article_key("en/notifications/missing")
    offer = await conversation.press(EN, Press(Act.NOT_HELPED, answer.conversation, key))
    assert [m.say for m in offer.messages] == [Say.NO_MORE_ARTICLES]
    assert handoff.requests == []
    reply = await conversation.handle_text(EN, "yes")
    assert reply.messages[0].say is Say.HANDOFF
    assert len(handoff.requests) == 1


async def test_engine_yes_long_after_an_offer_is_not_a_request_for_a_person() -> None:
    clock = ManualClock()
    conversation, handoff, _ = make_conversation(clock=clock)
    answer = await conversation.handle_text(EN, "notifications stopped")
    key = article_key("en/notifications/missing")
    await conversation.press(EN, Press(Act.NOT_HELPED, answer.conversation, key))
    clock.advance(2 * 24 * 3600)  # the conversation is closed as abandoned meanwhile
    reply = await conversation.handle_text(EN, "ok")
    assert [m.say for m in reply.messages] == [Say.CLARIFY]
    assert handoff.requests == []


async def test_engine_a_repeat_after_a_solved_conversation_is_answered_again() -> None:
    conversation, _, _ = make_conversation()
    first = await conversation.handle_text(EN, "my card was declined")
    key = article_key("en/payments/card-declined")
    await conversation.press(EN, Press(Act.HELPED, first.conversation, key))
    again = await conversation.handle_text(EN, "my card was declined")
    assert again.messages[0].say is Say.ANSWER


async def test_engine_small_talk_mid_guide_keeps_the_place() -> None:
    conversation, handoff, _ = make_conversation()
    answer = await conversation.handle_text(EN, "i forgot my password")
    key = article_key("en/account/reset-password")
    await conversation.press(EN, Press(Act.GUIDE, answer.conversation, key))
    reply = await conversation.handle_text(EN, "thanks")
    assert [m.say for m in reply.messages] == [Say.SMALL_TALK_THANKS, Say.GUIDE_RESUME]
    step = await conversation.handle_text(EN, "ok")
    assert step.messages[0].say is Say.STEP
    assert step.messages[0].step is not None
    assert step.messages[0].step.number == 2
    assert handoff.requests == []


async def test_engine_a_photo_mid_guide_keeps_the_place() -> None:
    conversation, _, _ = make_conversation()
    answer = await conversation.handle_text(EN, "i forgot my password")
    key = article_key("en/account/reset-password")
    await conversation.press(EN, Press(Act.GUIDE, answer.conversation, key))
    reply = await conversation.handle_media(EN, None)
    assert [m.say for m in reply.messages] == [Say.DESCRIBE_IN_WORDS, Say.GUIDE_RESUME]


async def test_engine_asks_the_ticket_whether_a_person_has_the_user() -> None:
    conversation, handoff, _ = make_conversation()
    await conversation.ask_person(EN)
    handoff.assign(1)  # an operator took it: the ticket alone says so
    reply = await conversation.handle_text(EN, "my card was declined", [77])
    assert reply.messages == ()  # no "while you wait" offer, no "added to your request"
    (forwarded,) = handoff.forwarded
    assert forwarded.message == UserMessage((77,), "my card was declined")
    assert "en/payments/card-declined" in forwarded.suggestions
