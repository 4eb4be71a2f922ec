"""The whole bot with the desk wired in, against FakeTelegram (a user chat + a staff group)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desk_fakes import CANNED, CATEGORIES
from fakes import TOKEN, ScriptedSuggester
from faketg import FakeTelegram, Pushed, SentMessage
from supportbot.app import all_migrations, build_bot_app
from supportbot.config import Settings
from supportbot.conversation.engine import Conversation
from supportbot.desk.service import DeskService
from supportbot.domain.models import CannedReply
from supportbot.lifecycle import serve_bot_app
from supportbot.storage.db import Database
from supportbot.storage.events import SqliteEventLog
from supportbot.telegram.middlewares import InFlight
from supportbot.telegram.staff_desk import TelegramStaffDesk

STAFF = -1001234
OLGA = 501
PAVEL = 502


@dataclass
class CannedSuggester(ScriptedSuggester):
    """The scripted suggester with canned replies."""

    canned: Sequence[CannedReply] = tuple(CANNED)

    def canned_replies(self) -> Sequence[CannedReply]:
        return self.canned


@dataclass
class DeskHarness:
    """The running bot, its desk and the fake server."""

    tg: FakeTelegram
    desk: DeskService
    staff_desk: TelegramStaffDesk
    conversation: Conversation
    in_flight: InFlight
    db: Database
    serving: asyncio.Task[None] | None = None

    async def crash(self) -> None:
        """Stop the bot as kill -9 would: nothing drained, nothing confirmed or marked done
        (the process's own tasks end with it)."""
        assert self.serving is not None
        self.serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.serving

    async def settle(self, pushed: Pushed, within_s: float = 10.0) -> None:
        """Wait until the update was handled and the staff outbox is empty."""
        deadline = time.monotonic() + within_s
        while True:
            seen = self.in_flight.last_update_id or 0
            if seen >= pushed.update_id and self.in_flight.active == 0:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"update {pushed.update_id} not handled in {within_s}s")
            await asyncio.sleep(0.005)
        await asyncio.wait_for(self.desk.drain(), within_s)
        await asyncio.wait_for(self.staff_desk.outbox.drain(), within_s)

    async def say(self, user_id: int, text: str | None = None, **kw: Any) -> list[SentMessage]:
        """A user writes; what the bot sent them in response."""
        before = len(self.tg.sent_to(user_id))
        await self.settle(self.tg.user_message(user_id, text, language_code="en", **kw))
        return self.tg.sent_to(user_id)[before:]

    async def staff_says(
        self,
        operator: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> list[SentMessage]:
        """An operator writes in the staff group; what the bot sent into it in response."""
        before = len(self.tg.sent_to(STAFF))
        chat = self.tg.chat(STAFF) or {}
        await self.settle(
            self.tg.group_message(
                STAFF,
                operator,
                text,
                thread_id=thread_id,
                reply_to_message_id=reply_to,
                is_forum=bool(chat.get("is_forum")),
                first_name="Olga" if operator == OLGA else "Pavel",
            )
        )
        return self.tg.sent_to(STAFF)[before:]

    async def press(
        self, user_id: int, data: str, message_id: int, chat_id: int | None = None
    ) -> None:
        """Someone presses a button."""
        await self.settle(self.tg.callback(user_id, data, message_id, chat_id))

    def staff_messages(self, thread_id: int | None = None) -> list[SentMessage]:
        """What the bot sent into the staff group (in one topic)."""
        return [
            m
            for m in self.tg.sent_to(STAFF)
            if thread_id is None or m.message_thread_id == thread_id
        ]

    def card(self, ticket_id: int) -> SentMessage:
        """The latest state of a ticket's card."""
        cards = [
            m for m in self.tg.sent_to(STAFF) if (m.text or "").startswith(f"🎫 #{ticket_id} ")
        ]
        assert cards, f"no card of ticket {ticket_id}"
        return cards[-1]


def desk_settings(
    tg: FakeTelegram, path: Path, flood: tuple[int, float] = (1000, 1.0), **desk: Any
) -> Settings:
    """Settings of a bot with a staff group, as `supportbot run` would read them."""
    return Settings(
        telegram={
            "token": TOKEN,
            "api_base": tg.base_url,
            "flood": {"messages": flood[0], "per_seconds": flood[1]},
        },
        storage={"database": path},
        desk={
            "staff_chat_id": STAFF,
            "language": "en",
            "categories": {k: list(v) for k, v in CATEGORIES.items()},
            # The fake server has no send limits; pacing is tested on its own.
            "staff_messages_per_minute": 10_000,
            **desk,
        },
    )


@asynccontextmanager
async def running_desk(
    tg: FakeTelegram,
    *,
    path: Path,
    forum: bool = True,
    add_chat: bool = True,
    flood: tuple[int, float] = (1000, 1.0),
    **desk: Any,
) -> AsyncIterator[DeskHarness]:
    """The bot with the desk, built by the composition root over SQLite at `path`
    (reopen the same path to "restart"); `desk` overrides keys of the `desk` section."""
    if add_chat:
        tg.add_chat(STAFF, "supergroup", is_forum=forum, title="Support staff")
        tg.add_user(OLGA, first_name="Olga", private_chat=False)
        tg.add_user(PAVEL, first_name="Pavel", private_chat=False)
        tg.set_member(STAFF, OLGA, "member")
        tg.set_member(STAFF, PAVEL, "administrator")
        tg.set_member(STAFF, tg.bot_id, "administrator")
    settings = desk_settings(tg, path, flood, **desk)
    db = await Database.open(path, all_migrations())
    try:
        app = await build_bot_app(
            settings, suggester=CannedSuggester(), db=db, events=SqliteEventLog(db)
        )
        assert app.desk is not None
        harness = DeskHarness(
            tg, app.desk.service, app.desk.staff, app.conversation, app.in_flight, db
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(serve_bot_app(settings, app, stop, polling_timeout_s=1))
        harness.serving = serving
        try:
            yield harness
        finally:
            if not serving.done():
                await app.desk.staff.outbox.drain()
                stop.set()
                await serving
    finally:
        await db.close()
