"""What the suggester keeps between starts: the fitted fusion and a large vector index."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from supportbot.domain.models import Article
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache

QUESTIONS = ["I forgot my password", "my card was declined", "kak udalit stranicu"]


async def _decisions(suggester: HybridSuggester) -> list[tuple[str, float, list[str]]]:
    out = []
    for text in QUESTIONS:
        decision = await suggester.decide(text)
        out.append(
            (
                decision.kind.value,
                decision.confidence,
                [s.article_id for s in decision.suggestions],
            )
        )
    return out


async def test_restart_on_an_unchanged_knowledge_base_does_not_refit(
    articles: list[Article],
) -> None:
    cache = InMemoryEmbeddingCache()
    first = await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    assert first.fits == 1
    restarted = await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    assert restarted.fits == 0
    assert restarted.snapshot.model == first.snapshot.model
    assert await _decisions(restarted) == await _decisions(first)


async def test_a_changed_article_or_config_fits_again(articles: list[Article]) -> None:
    cache = InMemoryEmbeddingCache()
    await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    edited = [
        replace(articles[0], body=articles[0].body + " Check the spam folder."),
        *articles[1:],
    ]
    assert (await HybridSuggester.create(edited, [HashingEmbedder()], cache)).fits == 1
    other_knobs = SuggesterParams(fuzzy=False)
    assert (
        await HybridSuggester.create(articles, [HashingEmbedder()], cache, other_knobs)
    ).fits == 1
    other_encoder = [HashingEmbedder(dim=128)]
    assert (await HybridSuggester.create(articles, other_encoder, cache)).fits == 1
    # Each of them is now stored too: starting any of them again fits nothing.
    assert (await HybridSuggester.create(edited, [HashingEmbedder()], cache)).fits == 0


async def test_an_unreadable_stored_fit_is_fitted_again(articles: list[Article]) -> None:
    cache = InMemoryEmbeddingCache()
    first = await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    await cache.put_artifact("fusion", first.snapshot.fit_key, b"not a pickle")
    again = await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    assert again.fits == 1
    assert await _decisions(again) == await _decisions(first)


async def test_a_large_index_is_loaded_instead_of_rebuilt(
    articles: list[Article], caplog: pytest.LogCaptureFixture
) -> None:
    cache = InMemoryEmbeddingCache()
    first = await HybridSuggester.create(articles, [HashingEmbedder()], cache, hnsw_threshold=10)
    with caplog.at_level(logging.INFO, logger="supportbot.retrieval"):
        restarted = await HybridSuggester.create(
            articles, [HashingEmbedder()], cache, hnsw_threshold=10
        )
    assert "Vector index hashing" in caplog.text
    assert await _decisions(restarted) == await _decisions(first)
    query = first.snapshot.dense[0].vectors[0]
    assert list(restarted.snapshot.dense[0].index.search(query, 5)[0]) == list(
        first.snapshot.dense[0].index.search(query, 5)[0]
    )


async def test_each_start_stage_says_what_it_does_in_one_log_line(
    articles: list[Article], caplog: pytest.LogCaptureFixture
) -> None:
    cache = InMemoryEmbeddingCache()
    with caplog.at_level(logging.INFO, logger="supportbot.retrieval"):
        await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    first = caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="supportbot.retrieval"):
        await HybridSuggester.create(articles, [HashingEmbedder()], cache)
    assert "Embedding" in first
    assert "passages with hashing" in first
    assert "Fitting the fusion" in first
    assert "Index built" in first
    assert "Embedding" not in caplog.text
    assert "Fitting" not in caplog.text
    assert "loaded from the cache" in caplog.text
