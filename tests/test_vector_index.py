"""Contract tests of the `VectorIndex` port: FAISS (exact and HNSW) and the numpy twin."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from supportbot.retrieval.index import FaissVectorIndex, NumpyVectorIndex, VectorIndex, Vectors

Build = Callable[[Vectors], VectorIndex]
Load = Callable[[bytes], VectorIndex]

KINDS: dict[str, tuple[Build, Load]] = {
    "faiss-flat": (FaissVectorIndex, FaissVectorIndex.from_bytes),
    "faiss-hnsw": (
        lambda v: FaissVectorIndex(v, hnsw_threshold=1),
        FaissVectorIndex.from_bytes,
    ),
    "numpy": (NumpyVectorIndex, NumpyVectorIndex.from_bytes),
}


@pytest.fixture(params=sorted(KINDS))
def kind(request: pytest.FixtureRequest) -> tuple[Build, Load]:
    return KINDS[request.param]


def _unit_vectors(n: int, dim: int = 24) -> Vectors:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def test_vector_index_finds_the_nearest_by_inner_product(kind: tuple[Build, Load]) -> None:
    vectors = _unit_vectors(300)
    index = kind[0](vectors)
    query = vectors[42] + 0.01 * vectors[7]
    rows, scores = index.search(query / np.linalg.norm(query), 5)
    exact = np.argsort(-(vectors @ query))[:5]
    assert rows[0] == 42
    assert set(rows.tolist()) == set(exact.tolist())
    assert list(scores) == sorted(scores, reverse=True)


def test_vector_index_asks_for_more_than_it_holds(kind: tuple[Build, Load]) -> None:
    index = kind[0](_unit_vectors(3))
    rows, _ = index.search(_unit_vectors(3)[0], 10)
    assert sorted(rows.tolist()) == [0, 1, 2]
    empty = kind[0](np.zeros((0, 24), dtype=np.float32))
    assert empty.search(_unit_vectors(1)[0], 3)[0].size == 0


def test_vector_index_keeps_the_vectors_it_indexed(kind: tuple[Build, Load]) -> None:
    vectors = _unit_vectors(50)
    index = kind[0](vectors)
    assert index.size == 50
    np.testing.assert_array_equal(index.vectors, vectors)
    assert not index.vectors.flags.writeable


def test_vector_index_saved_and_loaded_answers_the_same(kind: tuple[Build, Load]) -> None:
    vectors = _unit_vectors(200)
    index = kind[0](vectors)
    loaded = kind[1](index.to_bytes())
    np.testing.assert_array_equal(loaded.vectors, vectors)
    for row in (0, 17, 199):
        assert (
            loaded.search(vectors[row], 8)[0].tolist() == index.search(vectors[row], 8)[0].tolist()
        )
