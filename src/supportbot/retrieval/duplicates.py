"""Near-duplicate articles by embedding: pairs so similar that users would get both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from supportbot.domain.models import Article
from supportbot.domain.ports import Embedder
from supportbot.retrieval.chunking import plain_text


def _signature(article: Article) -> str:
    return " ".join([article.title, *article.questions, plain_text(article.body)[:500]])


def find_near_duplicates(
    articles: Sequence[Article], embedder: Embedder, threshold: float
) -> list[tuple[str, str, float]]:
    """Pairs of same-language articles with cosine >= threshold, most similar first.

    Translations of one topic (ru and en) are not duplicates: only articles in the same
    language are compared.
    """
    if len(articles) < 2:
        return []
    vectors = np.asarray(embedder.embed([_signature(a) for a in articles]), dtype=np.float32)
    similarity = vectors @ vectors.T
    pairs = []
    for i in range(len(articles)):
        for j in range(i + 1, len(articles)):
            if articles[i].lang is articles[j].lang and similarity[i, j] >= threshold:
                pairs.append((articles[i].id, articles[j].id, float(similarity[i, j])))
    return sorted(pairs, key=lambda p: p[2], reverse=True)
