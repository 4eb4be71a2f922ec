"""Composition root: builds adapters, then services; nothing else knows the concrete classes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from supportbot.analytics.stats import StatsService
from supportbot.config import EncoderSettings, ExperimentSettings, Settings
from supportbot.conversation.engine import Conversation, EngineParams
from supportbot.conversation.handoff import RecordingHandoff
from supportbot.conversation.ports import ConversationRepository, QueueProbe
from supportbot.conversation.state import Overrides, Treatment
from supportbot.desk.hours import WorkingHours
from supportbot.desk.ports import ArticleSource
from supportbot.desk.service import DeskParams, DeskService
from supportbot.domain.errors import ConfigError, KnowledgeBaseError
from supportbot.domain.handoff import HandoffPort
from supportbot.domain.models import Lang
from supportbot.domain.ports import Embedder, EmbeddingCache, EventLog, Suggester
from supportbot.knowledge.loader import KnowledgeBase, diff, load_knowledge_base
from supportbot.knowledge.watcher import watch_knowledge_base
from supportbot.retrieval.canned import RapidfuzzCannedMatcher
from supportbot.retrieval.embedders import create_embedder
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
from supportbot.storage import embedding_cache
from supportbot.storage.conversations import SqliteConversationRepository
from supportbot.storage.db import Database, Migration
from supportbot.storage.embedding_cache import SqliteEmbeddingCache
from supportbot.storage.tickets import SqliteStaffRepository, SqliteTicketRepository

if TYPE_CHECKING:
    # aiogram takes seconds to import: only the bot's own functions import it, so `ask`,
    # `chat`, `eval` and `kb` start without it.
    from aiogram import Bot, Dispatcher

    from supportbot.telegram.middlewares import InFlight
    from supportbot.telegram.staff_desk import StaffMembership, TelegramStaffDesk
    from supportbot.telegram.staff_texts import StaffTexts
    from supportbot.telegram.texts import Texts

logger = logging.getLogger(__name__)


def all_migrations() -> list[Migration]:
    """Every storage module's migrations, in a fixed order."""
    from supportbot.storage import conversations, events, tickets

    return [
        *embedding_cache.MIGRATIONS,
        *events.MIGRATIONS,
        *conversations.MIGRATIONS,
        *tickets.MIGRATIONS,
    ]


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


async def build_suggester(
    settings: Settings,
    *,
    kb_dir: Path | None = None,
    embedders: Sequence[Embedder] | None = None,
    cache: EmbeddingCache | None = None,
    db: Database | None = None,
) -> HybridSuggester:
    """Just the suggester (the knowledge base is not watched)."""
    live = await build_knowledge(settings, kb_dir=kb_dir, embedders=embedders, cache=cache, db=db)
    return live.suggester


# --- the Telegram bot and the operator desk ---------------------------------------------

# How often the desk retries what could not reach the staff group, assigns tickets once
# working hours begin, and refreshes queue notices.
DESK_TICK_S = 15.0


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
    queue: QueueProbe | None = None,
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
        queue=queue,
        params=EngineParams(
            default_lang=Lang(settings.telegram.default_language),
            duplicate_window_s=settings.telegram.duplicate_window_s,
        ),
    )


def desk_params(settings: Settings, texts: StaffTexts) -> DeskParams:
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
    """The operator desk: the service, its staff-group adapter and texts."""

    service: DeskService
    staff: TelegramStaffDesk
    texts: StaffTexts
    members: StaffMembership


async def build_desk(
    settings: Settings,
    *,
    bot: Bot,
    db: Database,
    events: EventLog,
    knowledge: ArticleSource,
    experiments: ConfiguredExperiments,
) -> Desk | None:
    """The desk in the configured staff group; None when `desk.staff_chat_id` is not set."""
    from supportbot.telegram.staff_desk import StaffMembership, TelegramStaffDesk
    from supportbot.telegram.staff_texts import StaffTexts

    chat_id = settings.desk.staff_chat_id
    if chat_id is None:
        return None
    desk = settings.desk
    texts = StaffTexts.load(desk.language)
    staff = TelegramStaffDesk(
        bot, chat_id, texts, knowledge, per_minute=desk.staff_messages_per_minute
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
    staff.names = service.operator_name
    await service.start()
    return Desk(service, staff, texts, StaffMembership(chat_id))


@dataclass(frozen=True, slots=True)
class BotApp:
    """Everything the runner needs: the bot, its dispatcher and the services behind them."""

    bot: Bot
    dispatcher: Dispatcher
    conversation: Conversation
    in_flight: InFlight
    texts: Texts
    stats: StatsService
    desk: Desk | None = None


def _require_token(settings: Settings) -> SecretStr:
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
    events: EventLog,
) -> BotApp:
    """The Telegram bot over the suggester, with the desk when a staff group is configured.

    Without a staff group, handoffs are recorded by `RecordingHandoff` and users are told
    that no operator is available right now.
    """
    from aiogram import Router

    from supportbot.telegram.bot import build_bot, build_dispatcher
    from supportbot.telegram.middlewares import FloodControl, InFlight
    from supportbot.telegram.staff import get_desk_user_router, get_group_router, get_staff_router
    from supportbot.telegram.staff_desk import DeskRelay
    from supportbot.telegram.stats import get_stats_router
    from supportbot.telegram.texts import Texts

    token = _require_token(settings)
    experiments = ConfiguredExperiments(settings.experiments)
    repository = SqliteConversationRepository(db)

    async def blocked(user_id: int) -> None:
        await repository.set_blocked(user_id, True)

    bot = build_bot(token.get_secret_value(), settings.telegram.api_base, on_blocked=blocked)
    desk = await build_desk(
        settings, bot=bot, db=db, events=events, knowledge=suggester, experiments=experiments
    )
    conversation = build_conversation(
        settings,
        suggester=suggester,
        repository=repository,
        handoff=desk.service if desk is not None else RecordingHandoff(),
        queue=desk.service if desk is not None else None,
        events=events,
        experiments=experiments,
    )
    texts = Texts.load()
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
        relay=DeskRelay(desk.service) if desk is not None else None,
        extra_routers=routers,
        in_flight=in_flight,
    )
    stats = StatsService(events, ZoneInfo(settings.analytics.timezone))
    dispatcher["stats"] = stats
    dispatcher["staff_lang"] = settings.desk.language
    if desk is not None:
        dispatcher["desk"] = desk.service
        dispatcher["staff_desk"] = desk.staff
        dispatcher["staff_texts"] = desk.texts
        dispatcher["staff_members"] = desk.members
    return BotApp(bot, dispatcher, conversation, in_flight, texts, stats, desk)


async def serve_bot_app(
    settings: Settings,
    app: BotApp,
    stop: asyncio.Event,
    *,
    polling_timeout_s: int = 10,
) -> None:
    """Serve updates until `stop` is set, with the desk's workers; then shut down cleanly."""
    from supportbot.telegram.stats import post_weekly_summaries

    desk = app.desk
    async with asyncio.TaskGroup() as tasks:
        if desk is not None:
            outbox = tasks.create_task(desk.staff.outbox.run())
            await desk.staff.check()
            tasks.create_task(_every(DESK_TICK_S, desk.service.tick, stop))
        staff_chat = settings.desk.staff_chat_id
        if staff_chat is not None and settings.analytics.weekly_summary:
            tasks.create_task(
                post_weekly_summaries(
                    app.bot,
                    staff_chat,
                    app.stats,
                    lang=settings.desk.language,
                    weekday=settings.analytics.weekly_summary_weekday,
                    at=settings.analytics.weekly_summary_time,
                    tz=ZoneInfo(settings.analytics.timezone),
                    stop=stop,
                )
            )
        try:
            await _serve(settings, app, stop, polling_timeout_s)
        finally:
            stop.set()
            if desk is not None:
                # What the last updates queued for the staff group still goes out.
                await _drain_outbox(desk, outbox)


async def _drain_outbox(desk: Desk, worker: asyncio.Task[None]) -> None:
    try:
        await asyncio.wait_for(desk.service.drain(), timeout=10)
        await asyncio.wait_for(desk.staff.outbox.drain(), timeout=10)
    except TimeoutError:
        logger.warning("staff group: some queued messages were not sent before the stop")
    worker.cancel()


async def _every(seconds: float, job: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """Run `job` every `seconds` until `stop`; a failing run is logged, the loop goes on."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
            return
        except TimeoutError:
            pass
        try:
            await job()
        except Exception:
            logger.exception("periodic job %s failed", getattr(job, "__qualname__", job))


async def run_bot(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """`supportbot run`: serve the knowledge base on Telegram until SIGTERM / Ctrl-C."""
    from supportbot.storage.events import SqliteEventLog
    from supportbot.telegram.runner import stop_on_signals

    _require_token(settings)  # before the models load: a missing token is reported at once

    stop = stop or asyncio.Event()
    stop_on_signals(stop)
    db = await Database.open(settings.storage.database, all_migrations())
    try:
        live = await build_knowledge(settings, db=db)
        app = await build_bot_app(
            settings, suggester=live.suggester, db=db, events=SqliteEventLog(db)
        )
        try:
            await _start_and_serve(settings, app, live, stop)
        finally:
            await app.bot.session.close()  # also when the start fails (closing twice is fine)
    finally:
        await db.close()
    logger.info("Stopped cleanly")


async def _start_and_serve(
    settings: Settings, app: BotApp, live: LiveKnowledge, stop: asyncio.Event
) -> None:
    from supportbot.telegram.bot import register_commands

    me = await app.bot.get_me()
    logger.info(
        "Bot @%s (id %d) serving knowledge base %s: %d articles; mode %s; %s",
        me.username,
        me.id,
        live.root,
        len(live.kb.articles),
        settings.telegram.mode,
        f"staff group {settings.desk.staff_chat_id}"
        if app.desk is not None
        else "no staff group (desk.staff_chat_id): users are told no operator can answer",
    )
    await register_commands(app.bot, app.texts)
    async with asyncio.TaskGroup() as tasks:
        if settings.knowledge_base.watch:
            tasks.create_task(
                live.watch(debounce_ms=settings.knowledge_base.debounce_ms, stop_event=stop)
            )
        try:
            await serve_bot_app(settings, app, stop)
        finally:
            stop.set()  # the watcher stops with the bot


async def _serve(
    settings: Settings, app: BotApp, stop: asyncio.Event, polling_timeout_s: int
) -> None:
    from supportbot.telegram.runner import WebhookOptions, run_polling, run_webhook

    telegram = settings.telegram
    if telegram.mode == "polling":
        await run_polling(
            app.bot, app.dispatcher, app.in_flight, stop, polling_timeout_s=polling_timeout_s
        )
        return
    hook = telegram.webhook
    if not hook.url:
        raise ConfigError("telegram.webhook.url is required in webhook mode")
    options = WebhookOptions(
        url=hook.url,
        path=hook.path,
        host=hook.host,
        port=hook.port,
        secret=hook.secret.get_secret_value() if hook.secret else None,
    )
    await run_webhook(app.bot, app.dispatcher, app.in_flight, stop, options)
