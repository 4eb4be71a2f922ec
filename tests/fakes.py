"""Test doubles for the conversation and Telegram tests, and a harness running the real bot.

`ScriptedSuggester` returns decisions scripted by keyword, so answer / suggest / handoff
paths are deterministic. `BotHarness` runs the real Dispatcher, routers and session against
`FakeTelegram` and waits until each pushed update has been fully handled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from faketg import FakeTelegram, Pushed, SentMessage
from supportbot.conversation.engine import Conversation, EngineParams
from supportbot.conversation.ports import ConversationRepository, Experiments
from supportbot.domain.events import Event
from supportbot.domain.handoff import (
    HandoffRequest,
    HandoffState,
    HandoffStatus,
    OpenTicket,
    UserMessage,
)
from supportbot.domain.models import (
    Article,
    CannedReply,
    Decision,
    DecisionKind,
    Lang,
    Step,
    Suggestion,
)
from supportbot.domain.ports import EventLog, UpdateInbox
from supportbot.domain.text import detect_lang, normalize
from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher
from supportbot.storage.conversations import (
    InMemoryConversationRepository,
    SqliteConversationRepository,
)
from supportbot.storage.db import Database
from supportbot.storage.events import InMemoryEventLog
from supportbot.storage.inbox import InMemoryUpdateInbox
from supportbot.telegram.bot import build_bot, build_dispatcher
from supportbot.telegram.middlewares import FloodControl, InFlight
from supportbot.telegram.runner import run_polling
from supportbot.telegram.texts import Texts

TOKEN = "123456:TEST-TOKEN"

LONG_ARTICLE = Article(
    id="en/privacy/very-long-policy-article-with-an-id-much-longer-than-sixty-four-bytes-total",
    title="Our privacy policy in full",
    body="\n\n".join(
        f"Section {i}. " + "We keep your data safe & never sell it <really>. " * 30
        for i in range(1, 11)
    ),
    lang=Lang.EN,
    category="privacy",
)

GUIDE_5 = Article(
    id="en/app/reinstall",
    title="Reinstall the app",
    body="A clean reinstall fixes most crashes.",
    lang=Lang.EN,
    category="app",
    steps=tuple(Step(i, f"Step {i} text: do thing number {i}.") for i in range(1, 6)),
)


def articles() -> list[Article]:
    """The conftest knowledge base plus a long article and a five-step guide."""
    from conftest import make_articles

    return [*make_articles(), LONG_ARTICLE, GUIDE_5]


# keyword (normalised, substring) -> decision kind and ranked article ids
DEFAULT_SCRIPT: list[tuple[str, DecisionKind, tuple[str, ...]]] = [
    ("password", DecisionKind.ANSWER, ("en/account/reset-password", "en/profile/delete")),
    ("пароль", DecisionKind.ANSWER, ("ru/account/reset-password", "ru/profile/delete")),
    (
        "card",
        DecisionKind.ANSWER,
        ("en/payments/card-declined", "en/notifications/missing", "en/profile/delete"),
    ),
    ("карт", DecisionKind.ANSWER, ("ru/payments/card-declined", "ru/notifications/missing")),
    ("crash", DecisionKind.ANSWER, ("en/app/reinstall",)),
    ("privacy", DecisionKind.ANSWER, (LONG_ARTICLE.id,)),
    (
        "account",
        DecisionKind.SUGGEST,
        ("en/profile/delete", "en/account/reset-password", "en/notifications/missing"),
    ),
    ("аккаунт", DecisionKind.SUGGEST, ("ru/profile/delete", "ru/account/reset-password")),
    ("notification", DecisionKind.ANSWER, ("en/notifications/missing",)),
    ("уведомлен", DecisionKind.ANSWER, ("ru/notifications/missing",)),
]


@dataclass
class ScriptedSuggester:
    """A `Suggester` whose decisions follow a keyword script (first matching rule wins).

    Excluded articles are dropped from the ranking; an ANSWER whose top article is excluded
    becomes a SUGGEST of the rest, and nothing left means HANDOFF. `delay_s` simulates
    model time off the event loop (a thread sleep, like a real embedder).
    """

    items: Sequence[Article] = field(default_factory=articles)
    script: list[tuple[str, DecisionKind, tuple[str, ...]]] = field(
        default_factory=lambda: list(DEFAULT_SCRIPT)
    )
    delay_s: float = 0.0
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_id = {a.id: a for a in self.items}

    async def decide(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        max_suggestions: int | None = None,
    ) -> Decision:
        self.calls.append((text, tuple(exclude)))
        started = time.perf_counter()
        if self.delay_s:
            await asyncio.to_thread(time.sleep, self.delay_s)
        lang = detect_lang(text)
        norm = normalize(text)
        for keyword, kind, ids in self.script:
            if keyword in norm:
                kept = [i for i in ids if i not in exclude]
                if kind is DecisionKind.ANSWER and kept and kept[0] == ids[0]:
                    confidence = 0.9
                elif kind is not DecisionKind.HANDOFF and kept:
                    kind, confidence = DecisionKind.SUGGEST, 0.5
                else:
                    kind, confidence = DecisionKind.HANDOFF, 0.1
                return self._decision(kind, confidence, kept, lang, started, max_suggestions)
        return self._decision(DecisionKind.HANDOFF, 0.05, [], lang, started, max_suggestions)

    def _decision(
        self,
        kind: DecisionKind,
        confidence: float,
        ids: list[str],
        lang: Lang,
        started: float,
        max_suggestions: int | None,
    ) -> Decision:
        limit = max_suggestions or 3
        suggestions = tuple(
            Suggestion(i, self._by_id[i].title, score=confidence, confidence=confidence)
            for i in ids[:limit]
        )
        elapsed = (time.perf_counter() - started) * 1000
        return Decision(kind, confidence, suggestions, lang, elapsed)

    def article(self, article_id: str) -> Article | None:
        return self._by_id.get(article_id)

    def canned_replies(self) -> Sequence[CannedReply]:
        return ()

    def remove(self, article_id: str) -> None:
        """Stop serving an article (as a knowledge base reload would)."""
        self._by_id.pop(article_id, None)


class ManualClock:
    """A settable UTC clock for the engine."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def all_events(log: EventLog) -> list[Event]:
    """Every event in the log, oldest first, read through the port."""
    return await log.read(datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A user withdrew from the queue."""

    user_id: int
    solved: bool


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A message forwarded to the desk, with its agent-assist suggestions."""

    ticket_id: int
    message: UserMessage
    suggestions: tuple[str, ...]


@dataclass(slots=True)
class RecordingHandoff:
    """`HandoffPort` that records every call; answers with `state` (QUEUED by default).

    Each user gets a ticket that stays open until `cancel_by_user`, `assign(user_id)` or
    `close(user_id)`, so the engine's "with a person" paths can be exercised.
    """

    state: HandoffState = HandoffState.QUEUED
    requests: list[HandoffRequest] = field(default_factory=list)
    cancellations: list[Cancellation] = field(default_factory=list)
    forwarded: list[Forwarded] = field(default_factory=list)
    tickets: dict[int, OpenTicket] = field(default_factory=dict)
    opened: int = 0

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """Record the request; open a ticket unless the desk is "unavailable"."""
        self.requests.append(request)
        user_id = request.user.user_id
        if user_id in self.tickets:
            return HandoffStatus(HandoffState.ALREADY_OPEN, ticket_id=self.tickets[user_id].id)
        if self.state is HandoffState.UNAVAILABLE:
            return HandoffStatus(HandoffState.UNAVAILABLE)
        self.opened += 1
        ticket = OpenTicket(self.opened, waiting=self.state is not HandoffState.ASSIGNED)
        self.tickets[user_id] = ticket
        position = len(self.tickets) if self.state is HandoffState.QUEUED else None
        return HandoffStatus(self.state, ticket_id=ticket.id, queue_position=position)

    async def open_ticket(self, user_id: int) -> OpenTicket | None:
        """The user's open ticket, if any."""
        return self.tickets.get(user_id)

    async def forward(
        self, ticket_id: int, message: UserMessage, suggestions: Sequence[str]
    ) -> bool:
        """Record the message and its suggestions."""
        self.forwarded.append(Forwarded(ticket_id, message, tuple(suggestions)))
        return True

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """The user withdrew: their ticket is closed."""
        self.cancellations.append(Cancellation(user_id, solved))
        self.tickets.pop(user_id, None)

    def assign(self, user_id: int) -> None:
        """An operator takes the user's ticket (it no longer waits)."""
        ticket = self.tickets[user_id]
        self.tickets[user_id] = OpenTicket(ticket.id, waiting=False)

    def close(self, user_id: int) -> None:
        """Close the user's ticket as an operator would."""
        self.tickets.pop(user_id, None)


def make_conversation(
    *,
    suggester: Any = None,
    repository: ConversationRepository | None = None,
    handoff: RecordingHandoff | None = None,
    events: InMemoryEventLog | None = None,
    experiments: Experiments | None = None,
    clock: ManualClock | None = None,
    params: EngineParams | None = None,
) -> tuple[Conversation, RecordingHandoff, InMemoryEventLog]:
    """A Conversation over in-memory twins (each can be replaced)."""
    handoff = handoff or RecordingHandoff()
    events = events or InMemoryEventLog()
    conversation = Conversation(
        suggester=suggester or ScriptedSuggester(),
        repository=repository or InMemoryConversationRepository(),
        handoff=handoff,
        events=events,
        intents=FuzzyIntentMatcher(),
        duplicates=FuzzyDuplicateDetector(),
        experiments=experiments,
        params=params,
        clock=clock or ManualClock(),
    )
    return conversation, handoff, events


@dataclass
class BotHarness:
    """The real bot (Dispatcher, routers, middlewares, session) against FakeTelegram."""

    tg: FakeTelegram
    conversation: Conversation
    handoff: RecordingHandoff
    events: InMemoryEventLog
    repository: ConversationRepository
    in_flight: InFlight
    stop: asyncio.Event
    task: asyncio.Task[None]

    async def settle(self, pushed: Pushed, within_s: float = 10.0) -> None:
        """Wait until the pushed update has been handled completely."""
        deadline = time.monotonic() + within_s
        while True:
            seen = self.in_flight.last_update_id or 0
            if seen >= pushed.update_id and self.in_flight.active == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"update {pushed.update_id} not handled in {within_s}s")
            await asyncio.sleep(0.005)

    async def say(self, user_id: int, text: str | None = None, **kwargs: Any) -> list[SentMessage]:
        """The user sends a message; returns what the bot sent to them in response."""
        before = len(self.tg.sent_to(user_id))
        pushed = self.tg.user_message(user_id, text, **kwargs)
        await self.settle(pushed)
        return self.tg.sent_to(user_id)[before:]

    async def press(
        self, user_id: int, message: SentMessage, label: str | None = None, *, index: int = 0
    ) -> list[SentMessage]:
        """The user presses a button (by label substring, else by index) on a bot message."""
        buttons = [b for row in message.buttons for b in row]
        if label is not None:
            buttons = [b for b in buttons if label in b["text"]]
            assert buttons, f"no button {label!r} in {message.buttons}"
        return await self.press_data(user_id, message.message_id, buttons[index]["callback_data"])

    async def press_data(self, user_id: int, message_id: int, data: str) -> list[SentMessage]:
        """The user presses a button with raw callback data."""
        before = len(self.tg.sent_to(user_id))
        pushed = self.tg.callback(user_id, data, message_id)
        await self.settle(pushed)
        return self.tg.sent_to(user_id)[before:]

    def callback_answers(self) -> list[dict[str, Any]]:
        """Params of every answerCallbackQuery so far."""
        return [c.params for c in self.tg.calls_of("answerCallbackQuery")]


@asynccontextmanager
async def running_bot(
    tg: FakeTelegram,
    *,
    suggester: Any = None,
    repository: ConversationRepository | None = None,
    handoff: RecordingHandoff | None = None,
    events: InMemoryEventLog | None = None,
    flood: FloodControl | None = None,
    clock: ManualClock | None = None,
    inbox: UpdateInbox | None = None,
) -> AsyncIterator[BotHarness]:
    """Start the bot by long polling against `tg`; stop it gracefully on exit."""
    repo = repository or InMemoryConversationRepository()
    conversation, handoff, events = make_conversation(
        suggester=suggester,
        repository=repo,
        handoff=handoff,
        events=events,
        clock=clock,
    )
    texts = Texts.load()

    bot = build_bot(TOKEN, tg.base_url, max_retry_wait_s=5)
    in_flight = InFlight()
    dp = build_dispatcher(
        conversation=conversation,
        texts=texts,
        flood=flood or FloodControl(1000, 1.0),
        in_flight=in_flight,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(
        run_polling(
            bot,
            dp,
            in_flight,
            stop,
            inbox=inbox or InMemoryUpdateInbox(),
            polling_timeout_s=1,
        )
    )
    harness = BotHarness(tg, conversation, handoff, events, repo, in_flight, stop, task)
    try:
        yield harness
    finally:
        stop.set()
        if not task.done():
            await asyncio.wait_for(task, 10)


async def sqlite_repository(path: Path) -> tuple[Database, SqliteConversationRepository]:
    """A SQLite conversation repository at `path` (close the database when done)."""
    from supportbot.storage import conversations

    db = await Database.open(path, conversations.MIGRATIONS)
    return db, SqliteConversationRepository(db)
