"""Vector indexes over chunk embeddings: FAISS, and a plain-numpy twin with the same contract."""

from __future__ import annotations

from typing import Protocol

import faiss
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

# Above this many vectors an exact scan stops being cheap; HNSW keeps queries ~1 ms.
HNSW_THRESHOLD = 50_000


class VectorIndex(Protocol):
    """Nearest chunks by inner product (= cosine: every vector is L2-normalised)."""

    size: int

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks, best first; rows < 0 are padding."""
        ...


class FaissVectorIndex:
    """FAISS inner-product index: exact for small knowledge bases, HNSW for large ones."""

    def __init__(self, vectors: Vectors, *, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.size, dim = vectors.shape
        index: faiss.Index
        if self.size >= hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = 40
            index.hnsw.efSearch = 128
        else:
            index = faiss.IndexFlatIP(dim)
        if self.size:
            index.add(vectors)
        self._index = index

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores, rows = self._index.search(np.ascontiguousarray(query.reshape(1, -1)), k)
        return rows[0].astype(np.int64), scores[0].astype(np.float32)


class NumpyVectorIndex:
    """Exact scan in numpy: the twin of FaissVectorIndex for tests and tiny bases."""

    def __init__(self, vectors: Vectors) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.size = self._vectors.shape[0]

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._vectors @ query.reshape(-1)
        rows = np.argpartition(-scores, k - 1)[:k]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        return rows.astype(np.int64), scores[rows].astype(np.float32)
