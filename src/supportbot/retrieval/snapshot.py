"""The snapshot one query is served from: chunks, indexes, lexical scorers, the fusion."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from supportbot.domain.models import Article, CannedReply, Chunk
from supportbot.domain.ports import Embedder
from supportbot.retrieval.fusion import FusionModel
from supportbot.retrieval.index import VectorIndex
from supportbot.retrieval.lexical import Bm25Scorer, CharNgramScorer, FuzzyScorer

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class DenseSignal:
    """One encoder's view of the chunks: its vectors and their index."""

    name: str
    embedder: Embedder
    vectors: Vectors
    index: VectorIndex
    # questions and titles embedded as queries (asymmetric encoders only)
    held_out_queries: Mapping[str, Vectors] | None = None


@dataclass(slots=True)
class Snapshot:
    """Everything one query needs, built off to the side and swapped in whole."""

    articles: list[Article]
    chunks: list[Chunk]
    chunk_article: npt.NDArray[np.int64]
    starts: npt.NDArray[np.int64]
    dense: list[DenseSignal]
    bm25: Bm25Scorer | None
    char: CharNgramScorer | None
    fuzzy: FuzzyScorer | None
    model: FusionModel
    canned: tuple[CannedReply, ...] = ()
    article_index: dict[str, int] = field(default_factory=dict)
    article_lang: list[str] = field(default_factory=list)
    langs: frozenset[str] = frozenset()
    fit_key: str = ""  # what the fusion of this content, encoders and config is stored under
    # up to this many chunks every chunk is scored for every message (see `scoring`)
    exact_limit: int = 5_000

    @property
    def signals(self) -> list[str]:
        """Signal names in the order of the fusion model."""
        names = [d.name for d in self.dense]
        if self.bm25 is not None:
            names.append("bm25")
        if self.char is not None:
            names.append("char")
        if self.fuzzy is not None:
            names.append("fuzzy")
        return names
