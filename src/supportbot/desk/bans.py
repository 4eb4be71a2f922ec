"""Banned users: nothing of theirs reaches the staff group; each gets one polite notice."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime

from supportbot.desk.models import Ban
from supportbot.desk.ports import StaffRepository


class Bans:
    """The bans in force, cached from storage (`load` once at start-up)."""

    def __init__(self, staff: StaffRepository, lock: asyncio.Lock) -> None:
        self._staff = staff
        self._lock = lock
        self._banned: dict[int, Ban] = {}

    async def load(self) -> None:
        """Read the bans from storage."""
        self._banned = {ban.user_id: ban for ban in await self._staff.bans()}

    def __contains__(self, user_id: object) -> bool:
        return user_id in self._banned

    def is_banned(self, user_id: int) -> bool:
        """True for a banned user: nothing of theirs reaches the staff group."""
        return user_id in self._banned

    async def add(self, user_id: int, now: datetime, by: int) -> None:
        """Ban a user (the caller holds the desk's lock and closes their ticket)."""
        ban = Ban(user_id, now, by)
        self._banned[user_id] = ban
        await self._staff.save_ban(ban)

    async def lift(self, user_id: int) -> bool:
        """Lift a ban; False when the user was not banned."""
        async with self._lock:
            if self._banned.pop(user_id, None) is None:
                return False
            await self._staff.remove_ban(user_id)
            return True

    async def take_notice(self, user_id: int) -> bool:
        """True once per ban: the banned user is due their one polite notice."""
        async with self._lock:
            ban = self._banned.get(user_id)
            if ban is None or ban.notified:
                return False
            ban = replace(ban, notified=True)
            self._banned[user_id] = ban
            await self._staff.save_ban(ban)
            return True
