"""Hot reload: the running suggester follows edits to the knowledge base files."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from supportbot.app import LiveKnowledge
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.retrieval.suggester import SuggesterParams
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache

CARD = """---
title: Card payment declined
questions:
  - my card was declined
  - payment fails with my visa
---
Your bank may decline a payment. Call the bank.
"""
PROFILE = """---
title: Delete your profile
questions:
  - how to delete my account
  - remove my profile forever
---
Open Settings > Profile > Delete.
"""


@pytest.fixture
async def live(tmp_path: Path) -> tuple[LiveKnowledge, HashingEmbedder, Path]:
    root = tmp_path / "kb"
    (root / "en").mkdir(parents=True)
    (root / "en" / "card.md").write_text(CARD, encoding="utf-8")
    (root / "en" / "profile.md").write_text(PROFILE, encoding="utf-8")
    embedder = HashingEmbedder()
    knowledge = await LiveKnowledge.load(
        root, [embedder], InMemoryEmbeddingCache(), SuggesterParams()
    )
    return knowledge, embedder, root


async def _until(
    check: Callable[[], Awaitable[bool]], poke: Callable[[], None] | None = None
) -> None:
    """Wait until `check` holds (the watcher reloads in the background), at most 10 s.

    The watcher may not be subscribed yet when the change is made: `poke` repeats a change
    that means the same (rewrites a file as it is) until the reload is seen, so no test
    guesses how long subscribing takes.
    """
    async with asyncio.timeout(10):
        while not await check():
            if poke is not None:
                poke()
            await asyncio.sleep(0.05)


async def test_hot_reload_serves_an_edited_article(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, _, root = live
    stop = asyncio.Event()

    async def renamed() -> bool:
        article = knowledge.suggester.article("en/card")
        return article is not None and article.title == "Card payment refused"

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(knowledge.watch(debounce_ms=100, stop_event=stop))
        edited = CARD.replace("Card payment declined", "Card payment refused")
        card = root / "en" / "card.md"
        card.write_text(edited, encoding="utf-8")
        await _until(renamed, poke=lambda: card.write_text(edited, encoding="utf-8"))
        decision = await knowledge.suggester.decide("card payment refused")
        assert decision.best is not None
        assert decision.best.title == "Card payment refused"
        stop.set()


async def test_hot_reload_keeps_the_last_good_version_of_a_broken_file(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, _, root = live
    (root / "en" / "card.md").write_text("---\ntitle: [unclosed\n---\nbody", encoding="utf-8")
    (root / "en" / "new.md").write_text(
        "---\ntitle: Ads rejected\nquestions: [why was my ad rejected]\n---\nRules.",
        encoding="utf-8",
    )
    await knowledge.reload()
    card = knowledge.suggester.article("en/card")
    assert card is not None
    assert card.title == "Card payment declined"  # the last good version stays served
    assert knowledge.suggester.article("en/new") is not None
    assert any(p.code == "kept-last-good" for p in knowledge.kb.problems)


async def test_reload_without_changes_embeds_nothing(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, embedder, root = live
    before = embedder.texts_embedded
    await knowledge.reload()
    assert embedder.texts_embedded == before
    (root / "en" / "profile.md").write_text(
        PROFILE.replace("remove my profile forever", "erase my page"), encoding="utf-8"
    )
    await knowledge.reload()
    assert embedder.texts_embedded == before + 1  # only the changed question


async def test_hot_reload_follows_a_renamed_folder(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, _, root = live
    stop = asyncio.Event()

    async def moved() -> bool:
        return knowledge.suggester.article("help/card") is not None

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(knowledge.watch(debounce_ms=100, stop_event=stop))
        (root / "en").rename(root / "help")
        card = root / "help" / "card.md"
        await _until(moved, poke=lambda: card.write_text(card.read_text(encoding="utf-8")))
        assert knowledge.suggester.article("en/card") is None
        stop.set()


async def test_small_reload_serves_at_once_and_refits_in_the_background(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, _, root = live
    fitted = knowledge.suggester.snapshot.model
    (root / "en" / "card.md").write_text(
        CARD.replace("Card payment declined", "Card payment refused"), encoding="utf-8"
    )
    await knowledge.reload()
    served = knowledge.suggester.snapshot
    assert served.model is fitted  # the edit is served before the fusion is refitted
    article = knowledge.suggester.article("en/card")
    assert article is not None
    assert article.title == "Card payment refused"
    await knowledge.suggester.settled()
    assert knowledge.suggester.snapshot.model is not fitted
    assert knowledge.suggester.snapshot.articles == served.articles


class _PrefixedEmbedder(HashingEmbedder):
    """An asymmetric encoder (like e5 with "query: " / "passage: "): queries differ."""

    def __init__(self) -> None:
        super().__init__(name="prefixed")
        self.symmetric = False
        self.queries_embedded = 0

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Any:
        if query:
            self.queries_embedded += len(texts)
            texts = [f"query: {t}" for t in texts]
        return super().embed(texts, query=query)


async def test_restart_with_an_asymmetric_encoder_embeds_nothing(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    (root / "en").mkdir(parents=True)
    (root / "en" / "card.md").write_text(CARD, encoding="utf-8")
    (root / "en" / "profile.md").write_text(PROFILE, encoding="utf-8")
    cache = InMemoryEmbeddingCache()  # the SQLite cache survives a restart the same way
    first = _PrefixedEmbedder()
    await LiveKnowledge.load(root, [first], cache, SuggesterParams())
    assert first.queries_embedded > 0  # the questions, once, for fitting
    again = _PrefixedEmbedder()
    await LiveKnowledge.load(root, [again], cache, SuggesterParams())
    assert (again.texts_embedded, again.queries_embedded) == (0, 0)


async def test_new_weights_at_the_same_model_path_do_not_mix_with_cached_vectors(
    tmp_path: Path,
) -> None:
    root = tmp_path / "kb"
    (root / "en").mkdir(parents=True)
    (root / "en" / "card.md").write_text(CARD, encoding="utf-8")
    cache = InMemoryEmbeddingCache()
    old = HashingEmbedder(dim=256)
    await LiveKnowledge.load(root, [old], cache, SuggesterParams())
    resized = HashingEmbedder(dim=128)
    resized.key = old.key  # the same model name, other weights with another size
    knowledge = await LiveKnowledge.load(root, [resized], cache, SuggesterParams())
    assert resized.texts_embedded > 0
    decision = await knowledge.suggester.decide("my card was declined")
    assert decision.best is not None


async def test_hot_reload_reports_a_broken_file_whose_last_good_version_is_served(
    live: tuple[LiveKnowledge, HashingEmbedder, Path],
) -> None:
    knowledge, _, root = live
    (root / "en" / "card.md").write_text("---\ntitle: [unclosed\n---\nBody\n", encoding="utf-8")

    await knowledge.reload()

    assert knowledge.suggester.article("en/card") is not None
    assert [s.path for s in knowledge.kb.report.skipped] == ["en/card.md"]
    assert knowledge.kb.report.kept == ("en/card.md",)
