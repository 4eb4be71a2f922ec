"""Who belongs to the staff group, and what the bot may do there (aiogram's member statuses)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ChatMemberRestricted
from aiogram.utils.chat_member import ADMINS, MEMBERS, ChatMemberUnion

logger = logging.getLogger(__name__)


def is_member(member: ChatMemberUnion) -> bool:
    """The creator, administrators, members, and restricted users still in the group."""
    if isinstance(member, ChatMemberRestricted):
        return member.is_member
    return isinstance(member, MEMBERS)


def is_admin(member: ChatMemberUnion) -> bool:
    """The creator or an administrator."""
    return isinstance(member, ADMINS)


def can_manage_topics(member: ChatMemberUnion) -> bool:
    """Whether the member may create, close and reopen forum topics."""
    if member.status == ChatMemberStatus.CREATOR:
        return True
    return bool(getattr(member, "can_manage_topics", False))


class StaffMembership:
    """Who is a member of the staff group, asked from Telegram and remembered briefly."""

    def __init__(
        self,
        chat_id: int,
        ttl_s: float = 300.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat_id = chat_id
        self._ttl = ttl_s
        self._clock = clock
        self._known: dict[int, tuple[bool, float]] = {}

    async def is_member(self, bot: Bot, user_id: int) -> bool:
        """True for the group's creator, administrators and members."""
        now = self._clock()
        cached = self._known.get(user_id)
        if cached is not None and now - cached[1] < self._ttl:
            return cached[0]
        try:
            member = await bot.get_chat_member(self.chat_id, user_id)
        except TelegramBadRequest as error:
            logger.info("membership of %d unknown: %s", user_id, error)
            return False
        allowed = is_member(member)
        self._known[user_id] = (allowed, now)
        return allowed

    def changed(self, user_id: int, member: ChatMemberUnion) -> None:
        """A `chat_member` update: the user's new status counts at once (no cache wait)."""
        self._known[user_id] = (is_member(member), self._clock())
