"""Staff membership by aiogram's member types, and the no-staff handoff."""

from __future__ import annotations

from aiogram.types import (
    ChatMemberAdministrator,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    User,
)

from supportbot.conversation.handoff import NoStaffHandoff
from supportbot.domain.events import HandoffReason
from supportbot.domain.handoff import HandoffRequest, HandoffState, UserMessage, UserProfile
from supportbot.telegram.membership import can_manage_topics, is_admin, is_member

ME = User(id=5, is_bot=False, first_name="Olga")


def test_membership_by_member_type() -> None:
    owner = ChatMemberOwner(user=ME, is_anonymous=False)
    # Only the fields that matter here: the full rights list grows with every Bot API.
    admin = ChatMemberAdministrator.model_construct(user=ME, can_manage_topics=False)
    topics = ChatMemberAdministrator.model_construct(user=ME, can_manage_topics=True)
    member = ChatMemberMember(user=ME)
    left = ChatMemberLeft(user=ME)
    still_in = ChatMemberRestricted.model_construct(user=ME, is_member=True)
    gone = ChatMemberRestricted.model_construct(user=ME, is_member=False)
    assert [is_member(m) for m in (owner, admin, member, left, still_in, gone)] == [
        True,
        True,
        True,
        False,
        True,
        False,
    ]
    assert [is_admin(m) for m in (owner, admin, member)] == [True, True, False]
    assert [can_manage_topics(m) for m in (owner, admin, topics)] == [True, False, True]


async def test_no_staff_handoff_says_unavailable_and_keeps_nothing() -> None:
    handoff = NoStaffHandoff()
    request = HandoffRequest(
        conversation_id="c1",
        user=UserProfile(7, "Ivan"),
        reason=HandoffReason.USER_ASKED,
        subject="help",
        transcript=(),
    )
    status = await handoff.hand_off(request)
    assert status.state is HandoffState.UNAVAILABLE
    assert await handoff.open_ticket(7) is None
    assert not await handoff.forward(1, UserMessage((3,), "hello"), ())
    assert vars(handoff) == {}  # nothing is kept, however many users hand off
