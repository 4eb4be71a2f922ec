"""Character n-grams: the same as sklearn's `char_wb` analyzer, counted in hashed columns."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from supportbot.domain.text import normalize
from supportbot.retrieval.lexical import CharNgramScorer
from supportbot.retrieval.ngrams import NgramCounts, char_ngram_counts, text_ngram_counts

TEXTS = [
    "Привет, как дела? I forgot my password!!",
    "a b  cd",
    "",
    "Ёжик в тумане: 99% загружено",
    "x",
]


def test_char_ngrams_count_what_sklearn_char_wb_counts() -> None:
    reference = CountVectorizer(analyzer="char_wb", ngram_range=(2, 5), preprocessor=normalize)
    expected = reference.fit_transform(TEXTS)
    counts = char_ngram_counts(TEXTS).matrix
    assert counts.shape == expected.shape  # one column per distinct n-gram, as sklearn's
    np.testing.assert_array_equal(counts.sum(axis=1), expected.sum(axis=1))
    np.testing.assert_array_equal((counts > 0).sum(axis=1), (expected > 0).sum(axis=1))
    np.testing.assert_array_equal(np.sort(counts.sum(axis=0).A1), np.sort(expected.sum(axis=0).A1))


def test_char_ngrams_of_a_text_do_not_depend_on_its_neighbours() -> None:
    alone = char_ngram_counts(["my card was declined"])
    among = char_ngram_counts(["something else", "my card was declined", "x"])
    assert _ngrams(alone, 0) == _ngrams(among, 1)


def test_char_scorer_tolerates_typos_and_scores_a_shortlist_alike() -> None:
    scorer = CharNgramScorer(["My card was declined", "Reset your password", "Delete profile"])
    scores = scorer.scores("my crad was declinded")
    assert int(np.argmax(scores)) == 0
    rows = np.asarray([2, 0], dtype=np.int64)
    np.testing.assert_allclose(scorer.scores_rows("my crad was declinded", rows), scores[rows])
    assert scorer.scores("qqqq zzzz").max() == 0.0


def test_one_text_counts_what_the_corpus_counts() -> None:
    counts = char_ngram_counts(TEXTS)
    for row, text in enumerate(TEXTS):
        assert _ngrams(counts, row) == {h: float(c) for h, c in text_ngram_counts(text).items()}


def _ngrams(counts: NgramCounts, row: int) -> dict[int, float]:
    """{n-gram hash: count} of one row."""
    part = counts.matrix[row]
    hashes = counts.vocabulary[part.indices].tolist()
    return dict(zip(hashes, part.data.tolist(), strict=True))
