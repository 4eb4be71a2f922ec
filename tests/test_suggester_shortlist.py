"""A large knowledge base is scored on a shortlist of articles: same answers as exact scoring."""

from __future__ import annotations

from dataclasses import replace

from supportbot.domain.models import Article
from supportbot.retrieval.embedders import HashingEmbedder
from supportbot.retrieval.suggester import HybridSuggester, SuggesterParams
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache

CLEAR = {
    "I forgot my password and cant log in": "en/account/reset-password",
    "my card was declined at checkout": "en/payments/card-declined",
    "как удалить страницу": "ru/profile/delete",
}


def _padded(articles: list[Article], copies: int) -> list[Article]:
    """The articles plus unrelated filler articles: a larger base around them."""
    filler = [
        Article(
            id=f"en/filler/{i}",
            title=f"Gardening note {i}: pruning roses and tomatoes",
            body=f"Water the seedlings {i} times a week. Compost keeps the soil rich {i}.",
        )
        for i in range(copies)
    ]
    return [*articles, *filler]


async def test_shortlist_finds_what_exact_scoring_finds(articles: list[Article]) -> None:
    base = _padded(articles, 60)
    exact = await HybridSuggester.create(base, [HashingEmbedder()], InMemoryEmbeddingCache())
    shortlisted = await HybridSuggester.create(
        base,
        [HashingEmbedder()],
        InMemoryEmbeddingCache(),
        SuggesterParams(top_k=10),
        exact_limit=0,
    )
    for text, expected in CLEAR.items():
        one, other = exact.decide_sync(text), shortlisted.decide_sync(text)
        assert one.best is not None
        assert other.best is not None
        assert other.best.article_id == one.best.article_id == expected
        assert other.best.matched


async def test_shortlist_hands_off_what_nothing_matches(articles: list[Article]) -> None:
    shortlisted = await HybridSuggester.create(
        _padded(articles, 60), [HashingEmbedder()], InMemoryEmbeddingCache(), exact_limit=0
    )
    decision = shortlisted.decide_sync("qwzx blorf vintage teapot auction")
    assert decision.kind.value == "handoff"


async def test_shortlist_excludes_articles_as_exact_scoring_does(articles: list[Article]) -> None:
    renamed = [replace(a, id=f"x/{a.id}") for a in articles]
    shortlisted = await HybridSuggester.create(
        [*articles, *renamed], [HashingEmbedder()], InMemoryEmbeddingCache(), exact_limit=0
    )
    decision = shortlisted.decide_sync(
        "I forgot my password", exclude={"en/account/reset-password"}
    )
    assert "en/account/reset-password" not in {s.article_id for s in decision.suggestions}
