"""The desk service with in-memory twins and a recording notifier: exact behaviour."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from conftest import make_articles
from desk_fakes import CATEGORIES, T0, Desk, make_desk, request
from fakes import all_events
from supportbot.desk.errors import DeskRefusal
from supportbot.desk.hours import WorkingHours
from supportbot.desk.models import ClosedBy, Notice, Relay, TicketStatus, short_key
from supportbot.desk.params import DeskParams
from supportbot.domain.events import EventKind
from supportbot.domain.handoff import HandoffState, OpenTicket, UserMessage
from supportbot.domain.models import Lang

CARD = "en/payments/card-declined"


@pytest.fixture
async def desk() -> Desk:
    return await make_desk(make_articles())


def _auto(capacity: int = 2, **kw: object) -> DeskParams:
    return DeskParams(
        capacity=capacity,
        auto_assign=True,
        categories=CATEGORIES,
        default_handling_s=600,
        **kw,  # type: ignore[arg-type]
    )


async def _kinds(desk: Desk) -> list[EventKind]:
    return [e.kind for e in (await all_events(desk.events))]


async def test_desk_handoff_opens_a_queued_ticket_with_a_card(desk: Desk) -> None:
    status = await desk.service.hand_off(request(1, suggested=(CARD,)))
    assert status.state is HandoffState.QUEUED
    assert status.ticket_id == 1
    assert status.queue_position == 1
    assert status.wait_estimate_s == 150.0  # 600 s default / (1 server * capacity 4)
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.status is TicketStatus.QUEUED
    assert ticket.suggested_category == "payments"  # the bot's guess, from the article
    assert (ticket.topic_id, ticket.card_message_id) == (101, 5001)
    assert [s.method for s in desk.notifier.sent] == ["open_ticket"]
    (queued,) = await all_events(desk.events)
    assert queued.kind is EventKind.QUEUED
    assert queued.data == {"position": 1}
    assert queued.arms == {"exp": "a"}
    assert queued.conversation_id == "1-1"


async def test_desk_second_handoff_of_the_same_user_is_already_open(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    again = await desk.service.hand_off(request(1))
    assert again.state is HandoffState.ALREADY_OPEN
    assert again.ticket_id == 1
    assert (await desk.service.open_ticket(1)) == OpenTicket(1, waiting=True)
    assert await desk.service.open_ticket(2) is None


async def test_desk_without_a_staff_group_is_unavailable() -> None:
    desk = await make_desk(make_articles(), params=DeskParams(enabled=False))
    status = await desk.service.hand_off(request(1))
    assert status.state is HandoffState.UNAVAILABLE
    assert desk.notifier.sent == []


async def test_desk_take_assigns_and_tells_the_user(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    desk.clock.advance(90)
    ticket = await desk.service.take(1, 77, "Olga")
    assert ticket.status is TicketStatus.ASSIGNED
    assert ticket.operator_id == 77
    assert await desk.service.open_ticket(1) == OpenTicket(1, waiting=False)
    (assigned,) = desk.notifier.to_users(Notice.ASSIGNED)
    assert assigned.params == {"operator": "", "ticket_id": 1}  # names hidden by default
    (taken,) = [e for e in (await all_events(desk.events)) if e.kind is EventKind.TAKEN]
    assert taken.operator_id == 77
    assert taken.data == {"wait_s": 90.0, "operator": "Olga"}
    assert desk.notifier.of("to_staff", Notice.STAFF_TAKEN)[0].params == {"operator": "Olga"}


async def test_desk_take_of_a_taken_ticket_is_refused(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    with pytest.raises(DeskRefusal) as refused:
        await desk.service.take(1, 78, "Pavel")
    assert refused.value.code == "taken"
    assert refused.value.user_message == "Already taken by another operator."


async def test_desk_two_simultaneous_takes_exactly_one_wins(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    results = await asyncio.gather(
        desk.service.take(1, 77, "Olga"),
        desk.service.take(1, 78, "Pavel"),
        return_exceptions=True,
    )
    winners = [r for r in results if not isinstance(r, BaseException)]
    losers = [r for r in results if isinstance(r, DeskRefusal)]
    assert len(winners) == 1
    assert len(losers) == 1
    assert losers[0].code == "taken"
    assert len(desk.notifier.to_users(Notice.ASSIGNED)) == 1


async def test_desk_take_beyond_capacity_is_refused() -> None:
    desk = await make_desk(make_articles(), params=DeskParams(capacity=1))
    await desk.service.hand_off(request(1))
    await desk.service.hand_off(request(2))
    await desk.service.take(1, 77, "Olga")
    with pytest.raises(DeskRefusal) as refused:
        await desk.service.take(2, 77, "Olga")
    assert refused.value.code == "at_capacity"
    assert refused.value.user_message == "You already have 1 tickets."


async def test_desk_auto_assigns_to_the_least_loaded_online_operator() -> None:
    desk = await make_desk(make_articles(), params=_auto(capacity=3))
    await desk.service.set_online(77, "Olga", True)
    await desk.service.set_online(78, "Pavel", True)
    await desk.service.bans.take_notice(0)  # no-op
    states = [(await desk.service.hand_off(request(u))).state for u in (1, 2, 3)]
    assert states == [HandoffState.ASSIGNED] * 3
    owners = [(await desk.service.get(i)).operator_id for i in (1, 2, 3)]  # type: ignore[union-attr]
    assert owners == [77, 78, 77]


async def test_desk_capacity_two_queues_the_third_and_serves_it_on_close() -> None:
    desk = await make_desk(make_articles(), params=_auto(capacity=2))
    await desk.service.set_online(77, "Olga", True)
    await desk.service.hand_off(request(1))
    await desk.service.hand_off(request(2))
    third = await desk.service.hand_off(request(3))
    assert third.state is HandoffState.QUEUED
    assert third.queue_position == 1
    assert third.wait_estimate_s == 300.0  # 600 s / (1 operator * capacity 2)
    desk.clock.advance(600)
    await desk.service.close(1, 77, "Olga", category="payments", subcategory="refunds")
    served = await desk.service.get(3)
    assert served is not None
    assert served.status is TicketStatus.ASSIGNED
    assert served.operator_id == 77
    # 1 and 2 were told by the handoff reply itself; 3 is told when served.
    assert [s.user_id for s in desk.notifier.to_users(Notice.ASSIGNED)] == [3]


async def test_desk_queue_positions_oldest_first_and_updates_when_they_change() -> None:
    desk = await make_desk(make_articles(), params=_auto(capacity=1))
    await desk.service.set_online(77, "Olga", True)
    await desk.service.hand_off(request(1))  # assigned
    second = await desk.service.hand_off(request(2))
    third = await desk.service.hand_off(request(3))
    assert (second.queue_position, third.queue_position) == (1, 2)
    assert desk.notifier.to_users(Notice.QUEUE_POSITION) == []
    await desk.service.close(1, 77, "Olga", category="other")
    # 2 is served; 3 moves up to first place and is told so.
    (moved,) = desk.notifier.to_users(Notice.QUEUE_POSITION)
    assert moved.user_id == 3
    assert moved.params == {"position": 1, "minutes": 10}
    info = await desk.service.queue_info()
    assert (info.length, info.assigned) == (1, 1)


async def test_desk_wait_estimate_uses_the_recent_median_handling_time() -> None:
    desk = await make_desk(make_articles(), params=_auto(capacity=1))
    await desk.service.set_online(77, "Olga", True)
    for user, minutes in ((1, 2), (2, 4), (3, 30)):
        await desk.service.hand_off(request(user))
        desk.clock.advance(minutes * 60)
        await desk.service.close(user, 77, "Olga", category="other")
    await desk.service.hand_off(request(4))  # assigned
    status = await desk.service.hand_off(request(5))
    assert status.queue_position == 1
    assert status.wait_estimate_s == 240.0  # median of 2, 4, 30 minutes


async def test_desk_after_hours_waits_for_the_morning() -> None:
    hours = WorkingHours.parse({"mon": "09:00-18:00", "tue": "09:00-18:00"}, "Europe/Moscow")
    desk = await make_desk(make_articles(), params=_auto(capacity=2), hours=hours)
    desk.clock.now = T0.replace(hour=16)  # 19:00 in Moscow on Monday
    await desk.service.set_online(77, "Olga", True)
    status = await desk.service.hand_off(request(1))
    assert status.state is HandoffState.AFTER_HOURS
    assert status.opens_at is not None
    assert status.opens_at.isoformat() == "2026-03-03T09:00:00+03:00"
    assert (await desk.service.get(1)).status is TicketStatus.QUEUED  # type: ignore[union-attr]
    assert desk.notifier.of("open_ticket")  # the staff see it in the morning
    desk.clock.now = T0.replace(day=3, hour=6, minute=1)  # 09:01 Moscow
    await desk.service.tick()
    assert (await desk.service.get(1)).operator_id == 77  # type: ignore[union-attr]


async def test_desk_operator_reply_tracks_first_and_each_response_time(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert await desk.service.forward(1, UserMessage((11,), "hello?"), ())
    await desk.service.drain()  # the copy follows the user's reply
    desk.clock.advance(120)
    relayed = await desk.service.relay_from_operator(
        operator_id=77,
        operator_name="Olga",
        message_ids=[500],
        topic_id=ticket.topic_id,
        reply_to=None,
    )
    assert relayed is Relay.RELAYED  # and it took the queued ticket
    await desk.service.forward(1, UserMessage((12,), "still there?"), ())
    await desk.service.drain()  # the copy follows the user's reply
    desk.clock.advance(30)
    await desk.service.relay_from_operator(
        operator_id=77,
        operator_name="Olga",
        message_ids=[501],
        topic_id=ticket.topic_id,
        reply_to=None,
    )
    done = await desk.service.get(1)
    assert done is not None
    assert done.first_response_at == T0 + timedelta(seconds=120)
    assert done.response_times == (120.0, 30.0)
    replies = [e for e in (await all_events(desk.events)) if e.kind is EventKind.OPERATOR_REPLY]
    assert [e.data for e in replies] == [
        {"response_s": 120.0, "first": True, "operator": "Olga"},
        {"response_s": 30.0, "operator": "Olga"},
    ]
    assert all(e.operator_id == 77 for e in replies)
    edited = await desk.service.edited_by_user(1, 11)
    assert edited is not None
    assert edited[0].id == 1


async def test_desk_internal_notes_and_general_chat_stay_with_the_staff(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    topic = (await desk.service.get(1)).topic_id  # type: ignore[union-attr]
    note = await desk.service.relay_from_operator(
        operator_id=77,
        operator_name="Olga",
        message_ids=[9],
        topic_id=topic,
        reply_to=None,
        internal=True,
    )
    chat = await desk.service.relay_from_operator(
        operator_id=77, operator_name="Olga", message_ids=[9], topic_id=None, reply_to=None
    )
    assert (note, chat) == (Relay.INTERNAL, Relay.NOT_A_TICKET)
    assert desk.notifier.of("copy_to_user") == []


async def test_desk_reply_mode_finds_the_ticket_by_the_card(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    card = (await desk.service.get(1)).card_message_id  # type: ignore[union-attr]
    relayed = await desk.service.relay_from_operator(
        operator_id=77, operator_name="Olga", message_ids=[9], topic_id=None, reply_to=card
    )
    assert relayed is Relay.RELAYED
    (copy,) = desk.notifier.of("copy_to_user")
    found = await desk.service.ticket_at(topic_id=None, reply_to=None)
    assert found is None
    # A reply to a relayed copy finds the ticket too.
    (user_copy,) = copy.params["ids"]
    by_link = await desk.service.edited_by_operator(9)
    assert by_link is not None
    assert by_link[1] == user_copy


async def test_desk_close_needs_a_category_from_the_taxonomy(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    with pytest.raises(DeskRefusal) as refused:
        await desk.service.close(1, 77, "Olga")
    assert refused.value.user_message == "Pick a category first."
    with pytest.raises(DeskRefusal):
        await desk.service.close(1, 77, "Olga", category="payments")  # needs a subcategory
    with pytest.raises(DeskRefusal):
        await desk.service.close(1, 77, "Olga", category="payments", subcategory="login")
    closed = await desk.service.close(1, 77, "Olga", category="payments", subcategory="refunds")
    assert closed.status is TicketStatus.CLOSED
    assert closed.closed_by is ClosedBy.OPERATOR
    (event,) = [e for e in (await all_events(desk.events)) if e.kind is EventKind.CLOSED]
    assert event.data == {
        "category": "payments",
        "subcategory": "refunds",
        "by": "operator",
        "solved_by_bot": False,
        "reopened": 0,
    }
    assert EventKind.RATING_REQUESTED in await _kinds(desk)
    assert desk.notifier.to_users(Notice.CLOSED_ASK_FCR)[0].params == {"ticket_id": 1}
    assert desk.notifier.of("set_topic_open")[-1].params == {"open": False}


async def test_desk_close_without_required_category_when_not_required() -> None:
    desk = await make_desk(make_articles(), params=DeskParams(require_category=False))
    await desk.service.hand_off(request(1))
    closed = await desk.service.close(1, 77, "Olga")
    assert closed.category is None


async def test_desk_fcr_rating_and_comment_are_recorded(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    await desk.service.close(1, 77, "Olga", category="other")
    await desk.service.feedback.answer_fcr(1, 1, True)
    assert desk.notifier.to_users(Notice.ASK_RATING)
    await desk.service.feedback.rate(1, 1, 5)
    assert desk.service.feedback.awaits_comment(1)
    assert await desk.service.feedback.add_comment(1, "quick and kind")
    assert not desk.service.feedback.awaits_comment(1)
    assert not await desk.service.feedback.add_comment(1, "again")
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert (ticket.solved, ticket.rating, ticket.comment) == (True, 5, "quick and kind")
    data = [
        (e.kind, e.data)
        for e in (await all_events(desk.events))
        if e.kind in {EventKind.FCR, EventKind.RATING}
    ]
    assert data == [
        (EventKind.FCR, {"solved": True, "reopened": 0}),
        (EventKind.RATING, {"score": 5}),
        (EventKind.RATING, {"score": 5, "comment": "quick and kind"}),
    ]
    with pytest.raises(DeskRefusal):
        await desk.service.feedback.rate(1, 2, 4)  # not their ticket


async def test_desk_user_closes_with_my_problem_is_solved(desk: Desk) -> None:
    await desk.service.hand_off(request(1, suggested=(CARD,)))
    await desk.service.take(1, 77, "Olga")
    assert await desk.service.close_by_user(1)
    assert not await desk.service.close_by_user(1)
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert (ticket.closed_by, ticket.category, ticket.solved) == (ClosedBy.USER, "payments", True)
    assert desk.notifier.to_users(Notice.ASK_RATING)
    assert desk.notifier.of("to_staff", Notice.STAFF_CLOSED_BY_USER)


async def test_desk_cancel_by_user_when_an_article_solved_it(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.cancel_by_user(1, solved=True)
    assert await desk.service.open_ticket(1) is None
    (event,) = [e for e in (await all_events(desk.events)) if e.kind is EventKind.CLOSED]
    assert event.data["solved_by_bot"] is True
    assert desk.notifier.to_users(Notice.ASK_RATING) == []


async def test_desk_writing_again_within_grace_reopens_to_the_same_operator(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    await desk.service.close(1, 77, "Olga", category="other")
    desk.clock.advance(10 * 60)
    status = await desk.service.hand_off(request(1, "it broke again"))
    assert status.state is HandoffState.ASSIGNED
    assert status.ticket_id == 1
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert (ticket.reopened, ticket.operator_id) == (1, 77)
    assert desk.notifier.of("set_topic_open")[-1].params == {"open": True}
    assert desk.notifier.of("to_staff", Notice.STAFF_REOPENED)


async def test_desk_reopened_ticket_reports_under_the_new_conversation(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    await desk.service.close(1, 77, "Olga", category="other")
    desk.clock.advance(10 * 60)
    await desk.service.hand_off(request(1, "it broke again", conversation=2))
    await desk.service.close(1, 77, "Olga", category="other")
    closes = [e for e in (await all_events(desk.events)) if e.kind is EventKind.CLOSED]
    assert [(e.conversation_id, e.data["reopened"]) for e in closes] == [("1-1", 0), ("1-2", 1)]
    taken = [e for e in (await all_events(desk.events)) if e.kind is EventKind.TAKEN]
    assert [e.data["operator"] for e in taken] == ["Olga", "Olga"]


async def test_desk_writing_again_after_grace_opens_a_linked_ticket(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.close(1, 77, "Olga", category="other")
    desk.clock.advance(31 * 60)
    status = await desk.service.hand_off(request(1, "new problem"))
    assert status.ticket_id == 2
    ticket = await desk.service.get(2)
    assert ticket is not None
    assert ticket.previous_id == 1


async def test_desk_user_message_racing_the_close_reopens_instead_of_being_lost(
    desk: Desk,
) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    await desk.service.close(1, 77, "Olga", category="other")
    assert await desk.service.forward(1, UserMessage((42,), "wait, one more thing"), ())
    await desk.service.drain()  # the copy follows the user's reply
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.is_open
    assert desk.notifier.of("copy_to_staff")[-1].params == {"ids": [42]}


async def test_desk_lost_topic_is_recreated_and_the_message_delivered(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    desk.notifier.lost.add(1)
    await desk.service.forward(1, UserMessage((42,), "hello"), ())
    await desk.service.drain()  # the copy follows the user's reply
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.topic_id == 102  # a new topic
    assert len(desk.notifier.of("open_ticket")) == 2
    assert desk.notifier.of("copy_to_staff")[0].params == {"ids": [42]}


async def test_desk_unreachable_staff_group_keeps_tickets_and_messages() -> None:
    desk = await make_desk(make_articles())
    desk.notifier.unavailable = True
    status = await desk.service.hand_off(request(1))
    assert status.state is HandoffState.QUEUED
    await desk.service.forward(1, UserMessage((42,), "hello"), ())
    await desk.service.drain()  # the copy follows the user's reply
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.card_message_id is None
    assert ticket.pending_copies == (42,)
    desk.notifier.unavailable = False
    await desk.service.tick()
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.card_message_id is not None
    assert ticket.pending_copies == ()
    assert desk.notifier.of("copy_to_staff")[0].params == {"ids": [42]}


async def test_desk_ban_closes_the_ticket_and_notifies_the_user_once(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.ban(1, by=77)
    assert desk.service.bans.is_banned(1)
    assert await desk.service.open_ticket(1) is None
    staff_before = len([s for s in desk.notifier.sent if s.method != "to_user"])
    for _ in range(2):
        status = await desk.service.hand_off(request(1))
        assert status.state is HandoffState.UNAVAILABLE
    assert len(desk.notifier.to_users(Notice.BANNED)) == 1
    assert len([s for s in desk.notifier.sent if s.method != "to_user"]) == staff_before
    assert await desk.service.bans.lift(1)
    assert not await desk.service.bans.lift(1)
    assert (await desk.service.hand_off(request(1))).state is HandoffState.QUEUED


async def test_desk_agent_assist_posts_articles_and_canned_replies(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.forward(1, UserMessage((42,), "hello, any refund news?"), [CARD])
    await desk.service.drain()  # the copy follows the user's reply
    (assist,) = desk.notifier.of("post_assist")
    assert assist.params["articles"] == [CARD]
    assert "refund-en" in assist.params["canned"]
    article = await desk.service.send_article(1, 77, "Olga", short_key(CARD))
    assert article.id == CARD
    assert desk.notifier.of("send_article")[0].params == {"id": CARD}
    assert (await desk.service.get(1)).first_response_at is not None  # type: ignore[union-attr]
    with pytest.raises(DeskRefusal):
        await desk.service.send_article(1, 77, "Olga", "nope")


async def test_desk_canned_search_and_send_fills_placeholders(desk: Desk) -> None:
    await desk.service.hand_off(request(1, name="Ivan"))
    found = desk.service.assist.search_canned("greet", Lang.EN)
    assert [r.id for r in found] == ["greeting-en"]
    await desk.service.send_canned(1, 77, "Olga", short_key("greeting-en"))
    assert desk.notifier.of("send_to_user")[0].params == {"text": "Hi Ivan! This is Support."}
    named = await make_desk(
        make_articles(), params=DeskParams(show_operator_name=True, require_category=False)
    )
    await named.service.hand_off(request(1, name="Ivan"))
    await named.service.send_canned(1, 77, "Olga", short_key("greeting-en"))
    assert named.notifier.of("send_to_user")[0].params == {"text": "Hi Ivan! This is Olga."}


async def test_desk_transfer_to_a_colleague_and_back_to_the_queue(desk: Desk) -> None:
    await desk.service.set_online(78, "Pavel", True)
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    targets = await desk.service.transfer_targets(1, 77)
    assert [t.operator.name for t in targets] == ["Pavel"]
    moved = await desk.service.transfer(1, 77, "Olga", 78)
    assert moved.operator_id == 78
    back = await desk.service.transfer(1, 78, "Pavel", None)
    assert back.status is TicketStatus.QUEUED
    assert desk.notifier.of("to_staff", Notice.STAFF_TRANSFERRED)[0].params == {
        "to": "Pavel",
        "by": "Olga",
    }


async def test_desk_slow_staff_group_gets_one_card_per_ticket_and_the_user_a_reply() -> None:
    from desk_fakes import RecordingNotifier

    notifier = RecordingNotifier(gate=asyncio.Event())
    desk = await make_desk(
        make_articles(),
        notifier=notifier,
        params=DeskParams(categories=CATEGORIES, card_wait_s=0.05),
    )
    statuses = await asyncio.gather(*(desk.service.hand_off(request(u)) for u in (1, 2, 3)))
    # The users were answered although no card could be posted yet.
    assert [s.queue_position for s in statuses] == [1, 2, 3]
    ticking = asyncio.create_task(desk.service.tick())  # must not post second cards
    relaying = asyncio.create_task(desk.service.forward(1, UserMessage((11,), "hello?"), ()))
    await notifier.waiting_for_gate(3)  # the three cards, still being posted
    for _ in range(5):  # the tick and the message run until they wait for those cards
        await asyncio.sleep(0)
    notifier.gate.set()  # type: ignore[union-attr]
    await asyncio.gather(ticking, relaying)
    await desk.service.drain()
    assert sorted(s.ticket_id for s in desk.notifier.of("open_ticket")) == [1, 2, 3]
    assert desk.notifier.of("copy_to_staff")
    # Nobody was told a queue place twice (the handoff reply told them).
    assert desk.notifier.to_users(Notice.QUEUE_POSITION) == []


async def test_desk_slow_staff_group_does_not_hold_up_users_or_operators() -> None:
    from desk_fakes import RecordingNotifier

    notifier = RecordingNotifier(staff_gate=asyncio.Event())
    desk = await make_desk(make_articles(), notifier=notifier, params=_auto(card_wait_s=0.05))
    await desk.service.set_online(77, "Olga", True)
    status = await asyncio.wait_for(desk.service.hand_off(request(1)), 1)
    assert status.state is HandoffState.ASSIGNED
    assert notifier.to_users(Notice.ASSIGNED) == []  # the handoff reply tells them
    await asyncio.wait_for(desk.service.close(1, 77, "Olga", category="other"), 1)
    assert notifier.to_users(Notice.CLOSED_ASK_FCR)  # the user is told at once
    assert notifier.of("to_staff") == []  # the staff group's notices still wait...
    notifier.staff_gate.set()  # type: ignore[union-attr]
    await desk.service.drain()
    staff = [s.notice for s in notifier.of("to_staff")]
    assert staff == [Notice.STAFF_TAKEN, Notice.STAFF_CLOSED]  # ...and go out in order


async def test_desk_transfer_of_a_queued_ticket_assigns_it_and_tells_the_user(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.set_online(78, "Pavel", False)
    await desk.service.transfer(1, 77, "Olga", 78)
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert (ticket.status, ticket.operator_id) == (TicketStatus.ASSIGNED, 78)
    assert desk.notifier.to_users(Notice.ASSIGNED)


async def test_desk_back_to_the_queue_restarts_the_wait(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    desk.clock.advance(600)
    await desk.service.transfer(1, 77, "Olga", None)
    desk.clock.advance(30)
    await desk.service.take(1, 77, "Olga")
    taken = [e for e in (await all_events(desk.events)) if e.kind is EventKind.TAKEN]
    assert taken[-1].data["wait_s"] == 30.0
    with pytest.raises(DeskRefusal):
        await desk.service.transfer(1, 77, "Olga", 77)  # to the one who has it


async def test_desk_second_tap_on_fcr_or_rating_is_refused(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    await desk.service.close(1, 77, "Olga", category="other")
    await desk.service.feedback.answer_fcr(1, 1, True)
    with pytest.raises(DeskRefusal):
        await desk.service.feedback.answer_fcr(1, 1, False)
    await desk.service.feedback.rate(1, 1, 5)
    with pytest.raises(DeskRefusal):
        await desk.service.feedback.rate(1, 1, 1)
    with pytest.raises(DeskRefusal):
        await desk.service.feedback.rate(1, 1, 9)
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert (ticket.solved, ticket.rating) == (True, 5)


async def test_desk_close_command_asks_whether_it_was_solved(desk: Desk) -> None:
    await desk.service.hand_off(request(1))
    await desk.service.take(1, 77, "Olga")
    assert await desk.service.close_by_user(1, solved=None)
    assert desk.notifier.to_users(Notice.CLOSED_ASK_FCR)
    assert EventKind.FCR not in await _kinds(desk)


def test_canned_for_a_message_needs_its_keywords_not_any_shared_word() -> None:
    from desk_fakes import CANNED
    from supportbot.retrieval.canned import RapidfuzzCannedMatcher

    matcher = RapidfuzzCannedMatcher()
    english = [r for r in CANNED if r.lang is Lang.EN]
    assert matcher.for_message("my parcel is late, where is it?", english, limit=3) == []
    found = matcher.for_message("I want my money, a refnd please", english, limit=3)
    assert [r.id for r in found] == ["refund-en"]


async def test_desk_user_message_does_not_wait_for_a_paced_staff_group() -> None:
    from desk_fakes import RecordingNotifier

    notifier = RecordingNotifier()
    desk = await make_desk(make_articles(), notifier=notifier, params=DeskParams(card_wait_s=30))
    await desk.service.hand_off(request(1))
    notifier.staff_gate = asyncio.Event()  # from now on the staff group is slow
    taking = asyncio.create_task(desk.service.take(1, 77, "Olga"))  # its notices queue up
    await notifier.waiting_for_staff_gate(1)
    # The message is stored as due to the staff and the call returns: the user's reply
    # does not wait (a wait of `card_wait_s` would exceed this guard many times over).
    assert await asyncio.wait_for(desk.service.forward(1, UserMessage((42,), "hi"), ()), 5)
    assert notifier.of("copy_to_staff") == []
    ticket = await desk.service.get(1)
    assert ticket is not None
    assert ticket.pending_copies == (42,)
    notifier.staff_gate.set()
    await taking
    await desk.service.drain()
    methods = [s.method for s in notifier.sent if s.method in {"to_staff", "copy_to_staff"}]
    assert methods == ["to_staff", "copy_to_staff"]  # in the order they were caused
    assert (await desk.service.get(1)).pending_copies == ()  # type: ignore[union-attr]
