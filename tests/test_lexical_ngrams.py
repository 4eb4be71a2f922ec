"""Character n-grams: the same as sklearn's `char_wb` analyzer, counted in hashed columns."""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import CountVectorizer

from supportbot.domain.text import normalize
from supportbot.retrieval.lexical import CharNgramScorer
from supportbot.retrieval.ngrams import char_ngram_counts, text_ngram_counts

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
    counts = char_ngram_counts(TEXTS, 2**20)
    assert counts.shape == (len(TEXTS), 2**20)
    np.testing.assert_array_equal(counts.sum(axis=1), expected.sum(axis=1))
    # Distinct n-grams land in distinct columns (no collision among so few).
    np.testing.assert_array_equal((counts > 0).sum(axis=1), (expected > 0).sum(axis=1))


def test_char_ngrams_of_a_text_do_not_depend_on_its_neighbours() -> None:
    alone = char_ngram_counts(["my card was declined"], 2**20)
    among = char_ngram_counts(["something else", "my card was declined", "x"], 2**20)
    assert (alone != among[1]).nnz == 0


def test_char_scorer_tolerates_typos_and_scores_a_shortlist_alike() -> None:
    scorer = CharNgramScorer(["My card was declined", "Reset your password", "Delete profile"])
    scores = scorer.scores("my crad was declinded")
    assert int(np.argmax(scores)) == 0
    rows = np.asarray([2, 0], dtype=np.int64)
    np.testing.assert_allclose(scorer.scores_rows("my crad was declinded", rows), scores[rows])
    assert scorer.scores("qqqq zzzz").max() == 0.0


def test_one_text_counts_what_the_corpus_counts() -> None:
    counts = char_ngram_counts(TEXTS, 2**20)
    for row, text in enumerate(TEXTS):
        one = text_ngram_counts(text, 2**20)
        assert dict(zip(counts[row].indices.tolist(), counts[row].data.tolist(), strict=True)) == {
            column: float(count) for column, count in one.items()
        }
