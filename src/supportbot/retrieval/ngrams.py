"""Character n-grams within words (sklearn's `char_wb`), counted in numpy.

The same n-grams as sklearn's `char_wb` analyzer (each word padded with a space on both
sides, 2-5 characters), identified by a 64-bit hash and counted for the whole corpus with
array arithmetic: sklearn's analyzer is a Python loop per n-gram (25-40 s for 100k chunks).
The vocabulary is the sorted array of the corpus's n-gram hashes: exact like sklearn's
(a 64-bit collision is negligible), without a dict of millions of strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import sparse

from supportbot.domain.text import normalize

MIN_N = 2
MAX_N = 5
_BATCH = 4_000  # texts hashed together: bounds the temporary arrays (~60 MB)
_BASE = np.uint64(0x100000001B3)  # FNV prime: a polynomial hash over code points
_MIX = np.uint64(0xBF58476D1CE4E5B9)  # splitmix64 finaliser: spreads the bits
_MASK = (1 << 64) - 1

Hashes = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class NgramCounts:
    """Each text's n-gram counts (CSR, float32) over `vocabulary` (sorted n-gram hashes)."""

    matrix: sparse.csr_matrix
    vocabulary: Hashes

    def columns(self, counts: dict[int, int]) -> tuple[npt.NDArray[np.int64], Hashes, int]:
        """Columns and counts of one text's known n-grams, and how many were unknown."""
        if not counts:
            return np.zeros(0, np.int64), np.zeros(0, np.uint64), 0
        hashes = np.fromiter(counts, dtype=np.uint64, count=len(counts))
        values = np.fromiter(counts.values(), dtype=np.uint64, count=len(counts))
        column = np.searchsorted(self.vocabulary, hashes)
        inside = column < len(self.vocabulary)
        known = np.zeros(len(hashes), dtype=bool)
        known[inside] = self.vocabulary[column[inside]] == hashes[inside]
        return column[known].astype(np.int64), values[known], int(values[~known].sum())


def char_ngram_counts(texts: Sequence[str]) -> NgramCounts:
    """The n-gram counts of a corpus, over the vocabulary of its own n-grams."""
    batches = [texts[start : start + _BATCH] for start in range(0, len(texts), _BATCH)]
    # Two passes (the vocabulary, then the counts): hashing is cheap, holding every
    # n-gram occurrence of 100k chunks at once (~1 GB) is not.
    found = [np.unique(_batch_hashes(batch)[1]) for batch in batches]
    vocabulary = np.unique(np.concatenate(found)) if found else np.zeros(0, np.uint64)
    del found
    parts = []
    for batch in batches:
        owner, hashes = _batch_hashes(batch)
        column = np.searchsorted(vocabulary, hashes)
        ones = np.ones(len(owner), dtype=np.float32)
        shape = (len(batch), len(vocabulary))
        part = sparse.coo_matrix((ones, (owner, column)), shape=shape).tocsr()
        part.sum_duplicates()
        parts.append(part)
    if not parts:
        return NgramCounts(sparse.csr_matrix((0, 0), dtype=np.float32), vocabulary)
    matrix = parts[0] if len(parts) == 1 else sparse.vstack(parts, format="csr")
    return NgramCounts(sparse.csr_matrix(matrix, dtype=np.float32), vocabulary)


def _batch_hashes(texts: Sequence[str]) -> tuple[npt.NDArray[np.int64], Hashes]:
    """(text row, n-gram hash) of every n-gram occurrence in `texts`."""
    words: list[str] = []
    owners: list[int] = []
    for row, text in enumerate(texts):
        split = normalize(text).split()
        words.extend(split)
        owners.extend([row] * len(split))
    if not words:
        return np.zeros(0, np.int64), np.zeros(0, np.uint64)
    # Every padded word followed by a separator that no window may cross.
    joined = "\x00".join(f" {w} " for w in words) + "\x00" * MAX_N
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(w) + 2 for w in words), dtype=np.int64, count=len(words))
    word_of = np.repeat(np.arange(len(words)), lengths)
    # The k-th character of the padded words sits at k + (separators before it).
    in_words = np.arange(len(word_of))
    position = in_words + word_of
    offset = in_words - np.concatenate([[0], np.cumsum(lengths)[:-1]])[word_of]
    owner = np.asarray(owners, dtype=np.int64)[word_of]
    rows: list[npt.NDArray[np.int64]] = []
    hashes: list[Hashes] = []
    rolling = np.zeros(len(position), dtype=np.uint64)
    for n in range(1, MAX_N + 1):
        rolling = rolling * _BASE + codes[position + n - 1]
        if n < MIN_N:
            continue
        valid = offset + n <= lengths[word_of]  # the window stays inside its padded word
        rows.append(owner[valid])
        hashes.append(_mix(rolling[valid] ^ np.uint64(n)))
    return np.concatenate(rows), np.concatenate(hashes)


def text_ngram_counts(text: str) -> dict[int, int]:
    """One short text's n-grams as {hash: count}: plain Python, which for one message is
    several times faster than the array set-up."""
    counts: dict[int, int] = {}
    base, mix = int(_BASE), int(_MIX)
    for word in normalize(text).split():
        codes = [ord(c) for c in f" {word} "]
        length = len(codes)
        for start in range(length - MIN_N + 1):
            rolling = 0
            for n in range(1, min(MAX_N, length - start) + 1):
                rolling = (rolling * base + codes[start + n - 1]) & _MASK
                if n < MIN_N:
                    continue
                value = rolling ^ n
                value ^= value >> 31
                value = (value * mix) & _MASK
                value ^= value >> 29
                counts[value] = counts.get(value, 0) + 1
    return counts


def _mix(values: Hashes) -> Hashes:
    values = values ^ (values >> np.uint64(31))
    values = values * _MIX
    return values ^ (values >> np.uint64(29))
