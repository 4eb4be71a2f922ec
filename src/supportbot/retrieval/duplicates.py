"""Near-duplicate articles by embedding: pairs so similar that users would get both."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from supportbot.domain.models import Article
from supportbot.domain.ports import Embedder
from supportbot.retrieval.chunking import plain_text

SIGNATURE_BODY_CHARS = 500


def signature(article: Article) -> str:
    """What an article is about: its title, the questions it answers and how the body starts."""
    body = " ".join(plain_text(article.body).split())[:SIGNATURE_BODY_CHARS]
    return " ".join([article.title, *article.questions, body])


def find_near_duplicates(
    articles: Sequence[Article], embedder: Embedder, threshold: float
) -> list[tuple[str, str, float]]:
    """Pairs (id, id, cosine) of same-language articles with cosine >= threshold.

    Most similar first; within a pair the ids keep the order of `articles`. Translations of
    one topic (ru and en) are not duplicates, so only articles of the same language are
    compared. Blocking CPU work: run it in a thread from async code.
    """
    if len(articles) < 2:
        return []
    vectors = np.asarray(embedder.embed([signature(a) for a in articles]), dtype=np.float32)
    # The embedder returns L2-normalised rows, so the inner product is the cosine.
    similarity = vectors @ vectors.T
    langs = np.array([a.lang.value for a in articles])
    same_lang = langs[:, None] == langs[None, :]
    rows, cols = np.nonzero(np.triu(same_lang & (similarity >= threshold), k=1))
    pairs = [
        (articles[i].id, articles[j].id, float(similarity[i, j]))
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
    ]
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))
