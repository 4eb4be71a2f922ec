"""The whole bot with the desk wired in, against FakeTelegram (a user chat + a staff group)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from desk_fakes import CANNED, CATEGORIES
from fakes import TOKEN, ScriptedSuggester
from faketg import FakeTelegram, Pushed, SentMessage
from supportbot.conversation.engine import Conversation
from supportbot.desk.service import DeskParams, DeskService
from supportbot.domain.models import CannedReply
from supportbot.retrieval.canned import RapidfuzzCannedMatcher
from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher
from supportbot.storage import conversations, events, tickets
from supportbot.storage.conversations import SqliteConversationRepository
from supportbot.storage.db import Database
from supportbot.storage.events import SqliteEventLog
from supportbot.storage.tickets import SqliteStaffRepository, SqliteTicketRepository
from supportbot.telegram.bot import build_bot, build_dispatcher
from supportbot.telegram.middlewares import FloodControl, InFlight
from supportbot.telegram.runner import run_polling
from supportbot.telegram.staff import get_desk_user_router, get_staff_router
from supportbot.telegram.staff_desk import DeskRelay, StaffMembership, TelegramStaffDesk
from supportbot.telegram.staff_texts import StaffTexts
from supportbot.telegram.texts import Texts

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
        chat = self.tg._chats.get(STAFF, {})
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


@asynccontextmanager
async def running_desk(
    tg: FakeTelegram,
    *,
    path: Path,
    forum: bool = True,
    params: DeskParams | None = None,
    add_chat: bool = True,
) -> AsyncIterator[DeskHarness]:
    """The bot with the desk over SQLite at `path` (reopen the same path to "restart")."""
    if add_chat:
        tg.add_chat(STAFF, "supergroup", is_forum=forum, title="Support staff")
        tg.add_user(OLGA, first_name="Olga", private_chat=False)
        tg.add_user(PAVEL, first_name="Pavel", private_chat=False)
        tg.set_member(STAFF, OLGA, "member")
        tg.set_member(STAFF, PAVEL, "administrator")
    db = await Database.open(
        path, [*conversations.MIGRATIONS, *events.MIGRATIONS, *tickets.MIGRATIONS]
    )
    suggester = CannedSuggester()
    texts = Texts.load()
    staff_texts = StaffTexts.load("en")
    bot = build_bot(TOKEN, tg.base_url, max_retry_wait_s=5)
    staff_desk = TelegramStaffDesk(bot, STAFF, staff_texts, suggester, per_minute=10_000)
    event_log = SqliteEventLog(db)
    desk = DeskService(
        tickets=SqliteTicketRepository(db),
        staff=SqliteStaffRepository(db),
        notifier=staff_desk,
        events=event_log,
        knowledge=suggester,
        canned=RapidfuzzCannedMatcher(),
        params=params or DeskParams(categories=CATEGORIES, anonymous_operator={"en": "Support"}),
        refusals=staff_texts.refusals(),
    )
    staff_desk.names = desk.operator_name
    await desk.start()
    conversation = Conversation(
        suggester=suggester,
        repository=SqliteConversationRepository(db),
        handoff=desk,
        events=event_log,
        intents=FuzzyIntentMatcher(),
        duplicates=FuzzyDuplicateDetector(),
        queue=desk,
    )
    in_flight = InFlight()
    dp = build_dispatcher(
        conversation=conversation,
        texts=texts,
        flood=FloodControl(1000, 1.0),
        relay=DeskRelay(desk),
        extra_routers=[get_staff_router(STAFF), get_desk_user_router()],
        in_flight=in_flight,
    )
    dp["desk"] = desk
    dp["staff_desk"] = staff_desk
    dp["staff_texts"] = staff_texts
    dp["staff_members"] = StaffMembership(STAFF)
    stop = asyncio.Event()
    harness = DeskHarness(tg, desk, staff_desk, conversation, in_flight, db)
    try:
        async with asyncio.TaskGroup() as group:
            worker = group.create_task(staff_desk.outbox.run())
            polling = group.create_task(run_polling(bot, dp, in_flight, stop, polling_timeout_s=1))
            try:
                yield harness
            finally:
                await staff_desk.outbox.drain()
                stop.set()
                await polling
                worker.cancel()
    finally:
        await db.close()
