"""The micro-batcher, and the suggester deciding concurrent messages in one batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from supportbot.domain.models import Article
from supportbot.retrieval.batcher import MicroBatcher
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.retrieval.suggester import HybridSuggester
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache


class Recorder:
    """A batch function that records every batch it was given."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, requests: Sequence[str]) -> list[str | Exception]:
        self.batches.append(list(requests))
        return [ValueError(r) if r.startswith("bad") else r.upper() for r in requests]


async def test_batcher_runs_concurrent_requests_together_in_arrival_order() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, window_s=0.001, max_batch=32)
    results = await asyncio.gather(*(batcher.submit(f"m{i}") for i in range(10)))
    assert results == [f"M{i}" for i in range(10)]
    assert recorder.batches == [[f"m{i}" for i in range(10)]]


async def test_batcher_caps_a_batch() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder, window_s=0.001, max_batch=4)
    await asyncio.gather(*(batcher.submit(f"m{i}") for i in range(10)))
    assert [len(b) for b in recorder.batches] == [4, 4, 2]
    assert [r for b in recorder.batches for r in b] == [f"m{i}" for i in range(10)]


async def test_batcher_fails_only_the_request_that_failed() -> None:
    batcher = MicroBatcher(Recorder(), window_s=0.001)
    results = await asyncio.gather(
        batcher.submit("ok"),
        batcher.submit("bad one"),
        batcher.submit("fine"),
        return_exceptions=True,
    )
    assert results[0] == "OK"
    assert isinstance(results[1], ValueError)
    assert results[2] == "FINE"


async def test_batcher_serves_others_when_a_caller_gives_up() -> None:
    batcher = MicroBatcher(Recorder(), window_s=0.001)
    abandoned = asyncio.ensure_future(batcher.submit("gone"))
    kept = asyncio.ensure_future(batcher.submit("kept"))
    await asyncio.sleep(0)
    abandoned.cancel()
    assert await kept == "KEPT"
    assert await batcher.submit("later") == "LATER"


async def test_suggester_encodes_concurrent_messages_in_one_pass(
    articles: list[Article],
) -> None:
    embedder = HashingEmbedder()
    suggester = await HybridSuggester.create(articles, [embedder], InMemoryEmbeddingCache())
    texts = ["I forgot my password", "my card was declined", "kak udalit stranicu", ""] * 3
    alone = [suggester.decide_sync(t) for t in texts]
    calls = embedder.calls
    together = await asyncio.gather(*(suggester.decide(t) for t in texts))
    assert embedder.calls - calls < len(texts) // 2
    for one, batched in zip(alone, together, strict=True):
        assert batched.kind is one.kind
        assert batched.confidence == pytest.approx(one.confidence, abs=1e-4)
        assert [s.article_id for s in batched.suggestions] == [
            s.article_id for s in one.suggestions
        ]


async def test_suggester_batched_calls_keep_their_own_options(articles: list[Article]) -> None:
    suggester = await HybridSuggester.create(
        articles, [HashingEmbedder()], InMemoryEmbeddingCache()
    )
    plain, excluded, strict = await asyncio.gather(
        suggester.decide("I forgot my password"),
        suggester.decide("I forgot my password", exclude={"en/account/reset-password"}),
        suggester.decide("I forgot my password", answer_threshold=1.1, max_suggestions=1),
    )
    assert plain.best is not None
    assert plain.best.article_id == "en/account/reset-password"
    assert "en/account/reset-password" not in {s.article_id for s in excluded.suggestions}
    assert strict.kind.value != "answer"
    assert len(strict.suggestions) <= 1
