"""Lexical signals: BM25 over stemmed words, character n-gram TF-IDF, fuzzy title matching."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import Stemmer
from rapidfuzz import fuzz, process, utils

from supportbot.domain.text import normalize
from supportbot.retrieval.ngrams import char_ngram_counts, text_ngram_counts

# bm25s sets its logger to DEBUG when imported (a line for every index build): keep the
# level the application gave it.
_level = logging.getLogger("bm25s").level
import bm25s  # noqa: E402

logging.getLogger("bm25s").setLevel(_level)

Scores = npt.NDArray[np.float32]

_WORD = re.compile(r"\w+", re.UNICODE)
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")

_STOPWORD_TEXT = """
    a an the and or but if of to in on at by for with from is are was were be been am do
    does did i me my we our you your he she it its they them this that these those can
    could would should will how what why when where which who please hi hello there just
    so not no yes и в во не что он на я с со как а то все она так его но да ты к у же вы
    за бы по только ее мне было вот от меня еще нет о из ему теперь когда даже ну вдруг
    ли если уже или ни быть был него до вас нибудь опять уж вам ведь там потом себя
    ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто
    чего раз тоже себе под будет ж тогда кто этот того потому этого какой совсем ним
    здесь этом один почти мой тем чтобы нее сейчас были куда зачем всех никогда можно
    при наконец два об другой хоть после над больше тот через эти нас про всего них
    какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том
    нельзя такой им более всегда конечно всю между привет здравствуйте пожалуйста
    подскажите помогите
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


class Tokenizer:
    """Words lower-cased, ё folded, stop words dropped, stemmed by their script's language."""

    def __init__(self) -> None:
        self._ru = Stemmer.Stemmer("russian")
        self._en = Stemmer.Stemmer("english")

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(normalize(text)) if w not in _STOPWORDS]
        return [
            self._ru.stemWord(w) if _CYRILLIC.search(w) else self._en.stemWord(w) for w in words
        ]


class Bm25Scorer:
    """BM25 over chunks; scores are divided by the query's best possible score.

    Raw BM25 grows with query length and term rarity; dividing by the sum of the query's
    term IDFs (unknown terms count as the rarest) makes 1.0 mean "every word of the
    message found", comparable across messages and knowledge bases.
    """

    def __init__(self, texts: Sequence[str], tokenizer: Tokenizer) -> None:
        self._tokenize = tokenizer
        corpus = [tokenizer(t) or ["\u0000"] for t in texts]
        self._model = bm25s.BM25(method="lucene")
        self._model.index(corpus, show_progress=False)
        self._n = len(corpus)
        df: dict[str, int] = {}
        for tokens in corpus:
            for token in set(tokens):
                df[token] = df.get(token, 0) + 1
        self._idf = {t: float(np.log(1 + (self._n - d + 0.5) / (d + 0.5))) for t, d in df.items()}
        self._max_idf = float(np.log(1 + (self._n + 0.5) / 0.5))
        self._vocab = self._model.vocab_dict if hasattr(self._model, "vocab_dict") else {}

    def coverage(self, text: str) -> float:
        """The share of the message's words (stems) that occur in the knowledge base."""
        tokens = set(self._tokenize(text))
        return sum(t in self._idf for t in tokens) / len(tokens) if tokens else 0.0

    def scores(self, query: str) -> Scores:
        """Normalised BM25 score of every chunk for the query."""
        tokens = list(dict.fromkeys(self._tokenize(query)))
        if not tokens:
            return np.zeros(self._n, dtype=np.float32)
        known = [t for t in tokens if t in self._idf]
        bound = sum(self._idf.get(t, self._max_idf) for t in tokens)
        if not known or bound <= 0:
            return np.zeros(self._n, dtype=np.float32)
        raw = np.asarray(self._model.get_scores(known), dtype=np.float32)
        normalised: Scores = np.clip(raw / bound, 0.0, 1.5).astype(np.float32)
        return normalised


# Unknown n-grams count towards a message's norm as if they had the top IDF: a message made
# mostly of words the base never uses must not look like a match (+0.03-0.05 AUROC measured).
UNKNOWN_WEIGHT = 1.0


class CharNgramScorer:
    """Cosine of character 2-5-gram TF-IDF vectors: robust to typos and word endings.

    `ngrams.char_ngram_counts` counts sklearn's `char_wb` n-grams; the IDF, sublinear tf
    and L2 norm are those of sklearn's `TfidfVectorizer`. Rows are kept in CSR, so a
    shortlist of chunks is scored in time proportional to the shortlist, not to the base.
    """

    def __init__(self, texts: Sequence[str]) -> None:
        counts = char_ngram_counts(list(texts) or [""])
        matrix = counts.matrix
        self._counts = counts
        n, width = matrix.shape
        df = np.bincount(matrix.indices, minlength=width)
        self._idf = (np.log((1 + n) / (1 + df)) + 1).astype(np.float32)
        self._max_idf = float(self._idf.max()) if width else 1.0
        # In place: at 100k chunks each copy of the matrix is ~200 MB.
        data = matrix.data
        np.log(data, out=data)
        data += 1
        data *= self._idf[matrix.indices]
        per_row = np.diff(matrix.indptr)
        norms = np.sqrt(np.bincount(np.repeat(np.arange(n), per_row), data**2, minlength=n))
        norms[norms == 0] = 1.0
        data /= np.repeat(norms.astype(np.float32), per_row)
        self._matrix = matrix
        self._n = len(texts)

    def _query(self, query: str) -> npt.NDArray[np.float32] | None:
        """The query's TF-IDF vector (dense over the vocabulary), or None if it has no
        n-gram the base knows."""
        columns, values, unknown = self._counts.columns(text_ngram_counts(query))
        if not len(columns):
            return None
        weights = (1.0 + np.log(values.astype(np.float32))) * self._idf[columns]
        norm = float(np.sqrt((weights**2).sum() + UNKNOWN_WEIGHT * unknown * self._max_idf**2))
        vector = np.zeros(self._matrix.shape[1], dtype=np.float32)
        vector[columns] = weights / norm
        return vector

    def scores(self, query: str) -> Scores:
        """Cosine similarity of the query with every chunk."""
        vector = self._query(query)
        if vector is None:
            return np.zeros(self._n, dtype=np.float32)
        return np.asarray(self._matrix @ vector, dtype=np.float32)[: self._n]

    def scores_rows(self, query: str, rows: npt.NDArray[np.int64]) -> Scores:
        """Cosine similarity of the query with the chunks at `rows` only."""
        vector = self._query(query)
        if vector is None or self._n == 0:
            return np.zeros(len(rows), dtype=np.float32)
        return np.asarray(self._matrix[rows] @ vector, dtype=np.float32)


class FuzzyScorer:
    """Typo-tolerant match of the whole message against titles and questions (rapidfuzz)."""

    def __init__(self, texts: Sequence[str], rows: Sequence[int], n_chunks: int) -> None:
        self._choices = list(texts)
        self._rows = np.asarray(rows, dtype=np.int64)
        self._n = n_chunks
        self._choice_of = np.full(n_chunks, -1, dtype=np.int64)
        self._choice_of[self._rows] = np.arange(len(self._rows))

    def scores(self, query: str) -> Scores:
        """Best of token-set and partial ratio per title/question chunk, as 0..1."""
        out = np.zeros(self._n, dtype=np.float32)
        if not self._choices:
            return out
        if not utils.default_process(query):
            return out
        matrix = process.cdist(
            [query],
            self._choices,
            scorer=fuzz.token_set_ratio,
            processor=utils.default_process,
            score_cutoff=50,
            dtype=np.float32,
            workers=1,
        )
        out[self._rows] = matrix[0] / 100.0
        return out

    def scores_many(self, queries: Sequence[str]) -> npt.NDArray[np.float32]:
        """`scores` of many messages at once, shape (queries, chunks), on every core."""
        out = np.zeros((len(queries), self._n), dtype=np.float32)
        if not self._choices or not queries:
            return out
        matrix = process.cdist(
            list(queries),
            self._choices,
            scorer=fuzz.token_set_ratio,
            processor=utils.default_process,
            score_cutoff=50,
            dtype=np.float32,
            # Threads pay off for a batch, not for one message.
            workers=-1 if len(queries) > 1 else 1,
        )
        out[:, self._rows] = matrix / 100.0
        return out

    def scores_rows(self, query: str, rows: npt.NDArray[np.int64]) -> Scores:
        """`scores` of the chunks at `rows` only (those that are titles or questions)."""
        out = np.zeros(len(rows), dtype=np.float32)
        choice = self._choice_of[rows]
        mine = np.flatnonzero(choice >= 0)
        if not len(mine) or not utils.default_process(query):
            return out
        matrix = process.cdist(
            [query],
            [self._choices[i] for i in choice[mine]],
            scorer=fuzz.token_set_ratio,
            processor=utils.default_process,
            score_cutoff=50,
            dtype=np.float32,
            workers=1,
        )
        out[mine] = matrix[0] / 100.0
        return out
