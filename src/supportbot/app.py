"""Composition root: builds adapters, then services; nothing else knows the concrete classes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from supportbot.analytics.stats import StatsService
from supportbot.analytics.table import ColumnarEventLog
from supportbot.config import EncoderSettings, ExperimentSettings, Settings
from supportbot.conversation.engine import Conversation, EngineParams
from supportbot.conversation.handoff import NoStaffHandoff
from supportbot.conversation.ports import ConversationRepository
from supportbot.conversation.state import Overrides, Treatment
from supportbot.desk.hours import WorkingHours
from supportbot.desk.params import DeskParams
from supportbot.desk.ports import ArticleSource
from supportbot.desk.service import DeskService
from supportbot.domain.errors import ConfigError, KnowledgeBaseError
from supportbot.domain.handoff import HandoffPort
from supportbot.domain.models import Lang
from supportbot.domain.ports import (
    Embedder,
    EmbeddingCache,
    EventLog,
    Suggester,
    UpdateInbox,
)
from supportbot.knowledge.loader import KnowledgeBase, diff, load_knowledge_base
from supportbot.knowledge.watcher import watch_knowledge_base
from supportbot.retrieval.canned import RapidfuzzCannedMatcher
from supportbot.retrieval.embedders import create_embedder
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
from supportbot.storage import embedding_cache
from supportbot.storage.conversations import SqliteConversationRepository
from supportbot.storage.db import Database, Migration
from supportbot.storage.embedding_cache import SqliteEmbeddingCache
from supportbot.storage.inbox import SqliteUpdateInbox
from supportbot.storage.tickets import SqliteStaffRepository, SqliteTicketRepository

if TYPE_CHECKING:
    # aiogram takes seconds to import: only the bot's own functions import it, so `ask`,
    # `chat`, `eval` and `kb` start without it.
    from aiogram import Bot, Dispatcher

    from supportbot.telegram.membership import StaffMembership
    from supportbot.telegram.middlewares import InFlight
    from supportbot.telegram.staff_desk import TelegramStaffDesk
    from supportbot.telegram.texts import Texts

logger = logging.getLogger(__name__)


def all_migrations() -> list[Migration]:
    """Every storage module's migrations, in a fixed order."""
    from supportbot.storage import conversations, events, inbox, tickets

    return [
        *embedding_cache.MIGRATIONS,
        *events.MIGRATIONS,
        *conversations.MIGRATIONS,
        *tickets.MIGRATIONS,
        *inbox.MIGRATIONS,
    ]


class EventStore(EventLog, ColumnarEventLog, Protocol):
    """The event log as the bot writes it and as `/stats` and reports read it."""


def event_log(db: Database) -> EventStore:
    """The event log in the database."""
    from supportbot.storage.events import SqliteEventLog

    return SqliteEventLog(db)


async def open_database(settings: Settings) -> Database:
    """Open the configured SQLite database with every migration applied."""
    return await Database.open(settings.storage.database, all_migrations())


def build_embedders(encoders: Sequence[EncoderSettings]) -> list[Embedder]:
    """Load every configured encoder (once, at start-up)."""
    return [
        create_embedder(
            e.backend,
            e.model,
            query_prefix=e.query_prefix,
            passage_prefix=e.passage_prefix,
            batch_size=e.batch_size,
        )
        for e in encoders
    ]


def build_multilingual_embedder(encoders: Sequence[EncoderSettings]) -> Embedder:
    """One encoder for comparing texts across languages (near-duplicates, content gaps):
    the multilingual one when configured, else the first. Raises ConfigError or ValueError
    when it cannot be loaded, and ValueError when none is configured."""
    if not encoders:
        raise ValueError("retrieval.encoders is empty")
    # An English-only model rates unrelated Russian texts as alike.
    chosen = next((e for e in encoders if e.backend == "use"), encoders[0])
    return build_embedders([chosen])[0]


def suggester_params(settings: Settings) -> SuggesterParams:
    """The suggester's knobs from the retrieval section."""
    r = settings.retrieval
    return SuggesterParams(
        answer_threshold=r.answer_threshold,
        suggest_threshold=r.suggest_threshold,
        max_suggestions=r.max_suggestions,
        top_k=r.top_k,
        lexical=r.lexical,
        fuzzy=r.fuzzy,
        fit_weights=r.fit_weights,
    )


class LiveKnowledge:
    """The knowledge base as served right now, reloaded when its files change.

    A reload re-reads the files (keeping the last good version of a broken article),
    re-embeds only changed text (the cache), builds a new index and swaps it in.
    """

    def __init__(self, root: Path, suggester: HybridSuggester, kb: KnowledgeBase) -> None:
        self.root = root
        self.suggester = suggester
        self.kb = kb

    @classmethod
    async def load(
        cls,
        root: Path,
        embedders: Sequence[Embedder],
        cache: EmbeddingCache,
        params: SuggesterParams,
        kb: KnowledgeBase | None = None,
    ) -> LiveKnowledge:
        """Read the knowledge base (unless `kb` was read already) and build the first index."""
        if kb is None:
            kb = await _read_knowledge_base(root)
        suggester = await HybridSuggester.create(
            list(kb.articles.values()), embedders, cache, params, kb.canned
        )
        logger.info(
            "Knowledge base %s: %d articles, %d canned replies",
            root,
            len(kb.articles),
            len(kb.canned),
        )
        return cls(root, suggester, kb)

    async def reload(self) -> None:
        """Re-read the files and swap in a new index if anything changed."""
        new = await asyncio.to_thread(load_knowledge_base, self.root, self.kb)
        changes = diff(self.kb, new)
        _log_problems(new)
        if not (changes.added or changes.changed or changes.removed) and (
            new.canned == self.kb.canned
        ):
            # Same articles, but the files' problems (a broken file whose last good version
            # is kept) are new: `/stats` and `kb check` read them from here.
            self.kb = new
            return
        before = self.suggester.embedded_texts
        await self.suggester.reload(list(new.articles.values()), new.canned)
        self.kb = new
        logger.info(
            "Knowledge base reloaded: %d added %s, %d changed %s, %d removed %s; "
            "%d passages re-embedded",
            len(changes.added),
            sorted(changes.added),
            len(changes.changed),
            sorted(changes.changed),
            len(changes.removed),
            sorted(changes.removed),
            self.suggester.embedded_texts - before,
        )

    async def watch(self, *, debounce_ms: int, stop_event: asyncio.Event | None = None) -> None:
        """Reload on every change under the root until `stop_event` is set."""

        async def on_change(paths: set[Path]) -> None:
            logger.info("Knowledge base files changed: %s", sorted(str(p) for p in paths))
            await self.reload()

        await watch_knowledge_base(
            self.root, on_change, debounce_ms=debounce_ms, stop_event=stop_event
        )


async def _read_knowledge_base(root: Path) -> KnowledgeBase:
    kb = await asyncio.to_thread(load_knowledge_base, root)
    _log_problems(kb)
    if not kb.articles:
        raise KnowledgeBaseError(f"No articles found in {root}: add markdown files there.")
    return kb


def _log_problems(kb: KnowledgeBase) -> None:
    for problem in kb.problems:
        if problem.severity.value == "error":
            logger.error("Knowledge base: %s", problem)
        else:
            logger.warning("Knowledge base: %s", problem)


async def build_knowledge(
    settings: Settings,
    *,
    kb_dir: Path | None = None,
    embedders: Sequence[Embedder] | None = None,
    cache: EmbeddingCache | None = None,
    db: Database | None = None,
) -> LiveKnowledge:
    """The served knowledge base with its suggester, from config (tests pass fakes).

    The files are read before the models load: a wrong path fails in a second, not after
    the models.
    """
    root = kb_dir or settings.knowledge_base.dir
    kb = await _read_knowledge_base(root)
    if embedders is None:
        embedders = await asyncio.to_thread(build_embedders, settings.retrieval.encoders)
    if cache is None:
        if db is None:
            raise ValueError("build_knowledge needs a cache or a database")
        cache = SqliteEmbeddingCache(db)
    return await LiveKnowledge.load(root, embedders, cache, suggester_params(settings), kb)


# --- the Telegram bot and the operator desk ---------------------------------------------


class ConfiguredExperiments:
    """`Experiments` from the config: arms by a stable hash of the user id.

    When several experiments set the same knob, the first one in the config wins.
    """

    def __init__(self, experiments: Sequence[ExperimentSettings]) -> None:
        self._experiments = list(experiments)

    def treatment(self, user_id: int) -> Treatment:
        """The user's arms and the overrides they bring."""
        from supportbot.analytics.experiments import assign_arm

        arms: dict[str, str] = {}
        knobs: dict[str, Any] = {}
        for experiment in self._experiments:
            shares = {name: arm.share for name, arm in experiment.arms.items()}
            chosen = assign_arm(user_id, experiment.name, shares)
            arms[experiment.name] = chosen
            for knob, value in experiment.arms[chosen].model_dump(exclude={"share"}).items():
                if value is not None:
                    knobs.setdefault(knob, value)
        return Treatment(arms=arms, overrides=Overrides(**knobs))

    def arms(self, user_id: int) -> dict[str, str]:
        """Just the user's arms (what every event records)."""
        return self.treatment(user_id).arms


def build_conversation(
    settings: Settings,
    *,
    suggester: Suggester,
    repository: ConversationRepository,
    handoff: HandoffPort,
    events: EventLog,
    experiments: ConfiguredExperiments | None = None,
) -> Conversation:
    """The conversation engine over the given ports, with the configured knobs."""
    from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher

    return Conversation(
        suggester=suggester,
        repository=repository,
        handoff=handoff,
        events=events,
        intents=FuzzyIntentMatcher(),
        duplicates=FuzzyDuplicateDetector(),
        experiments=experiments or ConfiguredExperiments(settings.experiments),
        params=EngineParams(
            default_lang=Lang(settings.telegram.default_language),
            duplicate_window_s=settings.telegram.duplicate_window_s,
        ),
    )


async def build_terminal_chat(
    settings: Settings, *, kb_dir: Path | None, db: Database
) -> tuple[LiveKnowledge, Conversation]:
    """`supportbot chat`: the watched knowledge base and a conversation with no desk (the
    user is told no operator is available)."""
    live = await build_knowledge(settings, kb_dir=kb_dir, db=db)
    conversation = build_conversation(
        settings,
        suggester=live.suggester,
        repository=SqliteConversationRepository(db),
        handoff=NoStaffHandoff(),
        events=event_log(db),
    )
    return live, conversation


def desk_params(settings: Settings, texts: Texts) -> DeskParams:
    """The desk's knobs from the `desk` section."""
    desk = settings.desk
    return DeskParams(
        enabled=desk.staff_chat_id is not None,
        capacity=desk.capacity,
        auto_assign=desk.assignment == "auto",
        require_category=desk.require_category,
        reopen_grace=timedelta(minutes=desk.reopen_grace_minutes),
        categories={name: tuple(subs) for name, subs in desk.categories.items()},
        show_operator_name=desk.show_operator_name,
        anonymous_operator={
            lang.value: texts.user_plain(lang, "anonymous_operator") for lang in Lang
        },
    )


@dataclass(frozen=True, slots=True)
class Desk:
    """The operator desk: the service, its staff-group adapter, who may act in the group."""

    service: DeskService
    staff: TelegramStaffDesk
    members: StaffMembership


async def build_desk(
    settings: Settings,
    *,
    bot: Bot,
    db: Database,
    events: EventLog,
    knowledge: ArticleSource,
    experiments: ConfiguredExperiments,
    texts: Texts,
) -> Desk | None:
    """The desk in the configured staff group; None when `desk.staff_chat_id` is not set."""
    from supportbot.telegram.cards import StaffCards
    from supportbot.telegram.membership import StaffMembership
    from supportbot.telegram.staff_desk import TelegramStaffDesk

    chat_id = settings.desk.staff_chat_id
    if chat_id is None:
        return None
    desk = settings.desk
    staff = TelegramStaffDesk(
        bot, chat_id, StaffCards(texts, knowledge), per_minute=desk.staff_messages_per_minute
    )
    service = DeskService(
        tickets=SqliteTicketRepository(db),
        staff=SqliteStaffRepository(db),
        notifier=staff,
        events=events,
        knowledge=knowledge,
        canned=RapidfuzzCannedMatcher(),
        params=desk_params(settings, texts),
        hours=WorkingHours.parse(desk.working_hours, desk.timezone, desk.holidays),
        refusals=texts.refusals(),
        arms=experiments.arms,
    )
    await service.start()
    return Desk(service, staff, StaffMembership(chat_id))


@dataclass(frozen=True, slots=True)
class BotApp:
    """Everything the runner needs: the bot, its dispatcher and the services behind them."""

    bot: Bot
    dispatcher: Dispatcher
    conversation: Conversation
    in_flight: InFlight
    texts: Texts
    stats: StatsService
    inbox: UpdateInbox
    desk: Desk | None = None


def require_token(settings: Settings) -> SecretStr:
    """The bot token, or a clear error when it is not configured."""
    token = settings.telegram.token
    if token is None:
        raise ConfigError(
            "telegram.token is not set: put it in the config or SUPPORTBOT_TELEGRAM__TOKEN"
        )
    return token


async def build_bot_app(
    settings: Settings,
    *,
    suggester: Suggester,
    db: Database,
    events: EventStore,
) -> BotApp:
    """The Telegram bot over the suggester, with the desk when a staff group is configured.

    Without a staff group, `NoStaffHandoff` tells users that no operator is available.
    """
    from aiogram import Router

    from supportbot.telegram.bot import build_bot, build_dispatcher
    from supportbot.telegram.desk_user import get_desk_user_router
    from supportbot.telegram.middlewares import FloodControl, InFlight
    from supportbot.telegram.staff import get_group_router, get_staff_router
    from supportbot.telegram.stats import get_stats_router
    from supportbot.telegram.texts import Texts

    token = require_token(settings)
    experiments = ConfiguredExperiments(settings.experiments)
    repository = SqliteConversationRepository(db)
    bot = build_bot(token.get_secret_value(), settings.telegram.api_base)
    texts = Texts.load(settings.desk.language)
    desk = await build_desk(
        settings,
        bot=bot,
        db=db,
        events=events,
        knowledge=suggester,
        experiments=experiments,
        texts=texts,
    )
    conversation = build_conversation(
        settings,
        suggester=suggester,
        repository=repository,
        handoff=desk.service if desk is not None else NoStaffHandoff(),
        events=events,
        experiments=experiments,
    )
    flood = settings.telegram.flood
    in_flight = InFlight()
    staff_chat = settings.desk.staff_chat_id
    routers: list[Router] = [get_group_router()]
    if staff_chat is not None:
        routers.append(get_stats_router(staff_chat))
    if desk is not None:
        routers += [get_staff_router(desk.staff.chat_id), get_desk_user_router()]
    dispatcher = build_dispatcher(
        conversation=conversation,
        texts=texts,
        flood=FloodControl(flood.messages, flood.per_seconds),
        extra_routers=routers,
        in_flight=in_flight,
    )
    stats = StatsService(events, ZoneInfo(settings.analytics.timezone))
    dispatcher["stats"] = stats
    dispatcher["staff_lang"] = settings.desk.language
    if desk is not None:
        dispatcher["desk"] = desk.service
        dispatcher["staff_desk"] = desk.staff
        dispatcher["staff_members"] = desk.members
    return BotApp(
        bot, dispatcher, conversation, in_flight, texts, stats, SqliteUpdateInbox(db), desk
    )
