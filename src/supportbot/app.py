"""Composition root: builds adapters, then services; nothing else knows the concrete classes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from supportbot.config import EncoderSettings, Settings
from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.ports import Embedder, EmbeddingCache
from supportbot.knowledge.loader import KnowledgeBase, diff, load_knowledge_base
from supportbot.knowledge.watcher import watch_knowledge_base
from supportbot.retrieval.embedders import create_embedder
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
from supportbot.storage import embedding_cache
from supportbot.storage.db import Database, Migration
from supportbot.storage.embedding_cache import SqliteEmbeddingCache

logger = logging.getLogger(__name__)


def all_migrations() -> list[Migration]:
    """Every storage module's migrations, in a fixed order."""
    from supportbot.storage import events

    return [*embedding_cache.MIGRATIONS, *events.MIGRATIONS]


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
    ) -> LiveKnowledge:
        """Read the knowledge base and build the first index."""
        kb = await asyncio.to_thread(load_knowledge_base, root)
        _log_problems(kb)
        if not kb.articles:
            raise KnowledgeBaseError(f"No articles found in {root}: add markdown files there.")
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
    """The served knowledge base with its suggester, from config (tests pass fakes)."""
    if embedders is None:
        embedders = await asyncio.to_thread(build_embedders, settings.retrieval.encoders)
    if cache is None:
        if db is None:
            raise ValueError("build_knowledge needs a cache or a database")
        cache = SqliteEmbeddingCache(db)
    return await LiveKnowledge.load(
        kb_dir or settings.knowledge_base.dir, embedders, cache, suggester_params(settings)
    )


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
