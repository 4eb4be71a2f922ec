"""Vector indexes over chunk embeddings: FAISS, and a plain-numpy twin with the same contract."""

from __future__ import annotations

import os
from typing import Any, Protocol

import faiss
import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

# Above this many vectors an exact scan stops being cheap; HNSW keeps queries ~1 ms.
HNSW_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128


class VectorIndex(Protocol):
    """Nearest chunks by inner product (= cosine: every vector is L2-normalised)."""

    size: int

    @property
    def vectors(self) -> Vectors:
        """The indexed vectors, one row per chunk (read-only; exact scores of a shortlist)."""
        ...

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks, best first; rows < 0 are padding."""
        ...

    def to_bytes(self) -> bytes:
        """The index, to be stored and loaded by `from_bytes` instead of rebuilt."""
        ...


def _search_threads() -> None:
    """One OpenMP thread for searches: a single query gains nothing from a thread team, and
    on a busy 2-core machine (the event loop, the models) the team's spinning made a search
    5x slower (9 ms against 1.8 ms at 30k vectors)."""
    if faiss.omp_get_max_threads() != 1:
        faiss.omp_set_num_threads(1)


class FaissVectorIndex:
    """FAISS inner-product index: exact for small knowledge bases, HNSW for large ones.

    The vectors live once, inside FAISS; `vectors` is a view of them, not a copy.
    """

    def __init__(self, vectors: Vectors, *, hnsw_threshold: int = HNSW_THRESHOLD) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        size, dim = vectors.shape
        index: faiss.Index
        if size >= hnsw_threshold:
            index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        else:
            index = faiss.IndexFlatIP(dim)
        if size:
            # Building an HNSW graph is parallel work: every core, then back to one.
            faiss.omp_set_num_threads(os.cpu_count() or 1)
            try:
                index.add(vectors)
            finally:
                _search_threads()
        self._adopt(index)

    @classmethod
    def from_bytes(cls, data: bytes) -> FaissVectorIndex:
        """An index saved by `to_bytes` (FAISS's own serialisation)."""
        index = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
        self = cls.__new__(cls)
        self._adopt(index)
        return self

    @staticmethod
    def key(dim: int, size: int, *, hnsw_threshold: int = HNSW_THRESHOLD) -> str:
        """What decides the structure built for `size` vectors (part of a cache key)."""
        if size >= hnsw_threshold:
            return f"faiss:hnsw{HNSW_M}:ef{HNSW_EF_CONSTRUCTION}:ip:{dim}"
        return f"faiss:flat:ip:{dim}"

    def _adopt(self, index: faiss.Index) -> None:
        self._index = index
        self.size = int(index.ntotal)
        self.dim = int(index.d)
        hnsw = getattr(index, "hnsw", None)
        flat: Any = index
        if hnsw is not None:
            hnsw.efSearch = HNSW_EF_SEARCH  # a search parameter: not stored by FAISS
            flat = faiss.downcast_index(getattr(index, "storage"))  # noqa: B009 - untyped
        if self.size:
            view = faiss.rev_swig_ptr(flat.get_xb(), self.size * self.dim)
            self._vectors: Vectors = np.asarray(view).reshape(self.size, self.dim)
        else:
            self._vectors = np.zeros((0, self.dim), dtype=np.float32)
        self._vectors.flags.writeable = False

    @property
    def vectors(self) -> Vectors:
        """The indexed vectors (a read-only view of FAISS's storage)."""
        return self._vectors

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        _search_threads()
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        scores, rows = self._index.search(query, k)
        return rows[0].astype(np.int64), scores[0].astype(np.float32)

    def to_bytes(self) -> bytes:
        """The index in FAISS's serialisation."""
        return bytes(faiss.serialize_index(self._index))


class NumpyVectorIndex:
    """Exact scan in numpy: the twin of FaissVectorIndex (same contract, no FAISS)."""

    def __init__(self, vectors: Vectors) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._vectors.flags.writeable = False
        self.size = self._vectors.shape[0]

    @classmethod
    def from_bytes(cls, data: bytes) -> NumpyVectorIndex:
        """An index saved by `to_bytes` (numpy's .npy format)."""
        import io

        return cls(np.load(io.BytesIO(data), allow_pickle=False))

    @property
    def vectors(self) -> Vectors:
        """The indexed vectors."""
        return self._vectors

    def search(self, query: Vectors, k: int) -> tuple[npt.NDArray[np.int64], Vectors]:
        """Return (rows, scores) of the k nearest chunks."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self._vectors @ np.asarray(query, dtype=np.float32).reshape(-1)
        rows = np.argpartition(-scores, k - 1)[:k]
        rows = rows[np.argsort(-scores[rows], kind="stable")]
        return rows.astype(np.int64), scores[rows].astype(np.float32)

    def to_bytes(self) -> bytes:
        """The vectors in numpy's .npy format."""
        import io

        buffer = io.BytesIO()
        np.save(buffer, self._vectors, allow_pickle=False)
        return buffer.getvalue()
