"""Content gaps: questions nothing in the knowledge base answered, grouped into themes.

Personal data is masked before anything else happens, so it is neither embedded nor shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]
Embed = Callable[[Sequence[str]], Vectors]
"""Texts -> L2-normalised vectors (an `Embedder.embed` bound to query=True fits)."""
Cluster = Callable[[Vectors, int, npt.NDArray[np.float64]], npt.NDArray[np.int64]]
"""(vectors, k, weights) -> a cluster label per vector."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# 13-19 digits, maybe in groups split by single spaces or dashes.
_CARD = re.compile(r"(?<![\d+-])\d(?:[ -]?\d){12,18}(?![\d-])")
_CARD_GROUPS = re.compile(r"\d{4}(?:[ -]\d{4}){3}(?:[ -]\d{1,3})?|\d{4}[ -]\d{6}[ -]\d{4,5}")
# Phone numbers as people write them. Bare runs of digits (order numbers, ИНН, dates) are
# not phones; the digit count of each shape is checked in `_phone`.
_PHONE = re.compile(
    r"""
    (?<![\w+(])(?:
        \+\d{1,3}[\s-]?(?:\(\d{1,5}\)|\d{1,5})(?:[\s-]?\d{2,4}){1,4}  # +7 (916) 123-45-67
      | [78][\s-]?(?:\(\d{3}\)|\d{3})(?:[\s-]?\d{2,3}){2,3}           # 8 916 123 45 67
      | \(\d{3,5}\)[\s-]?\d{2,4}(?:[\s-]\d{2,4}){1,2}                 # (555) 123-4567
      | \d{3}[\s-]\d{3}[\s-]\d{4}                                     # 555 123 4567
      | \d{2,3}-\d{2}-\d{2}                                           # 123-45-67
      | \d{3}-\d{4}                                                   # 555-1234
    )(?![\w-])
    """,
    re.VERBOSE,
)
_PLACEHOLDER = re.compile(r"\[(?:email|card|phone)\]")
_PLACEHOLDER_NAMES = frozenset({"email", "card", "phone"})
_WORD = re.compile(r"[^\W\d_]{3,}", re.UNICODE)
_STOP = frozenset(
    [
        "the",
        "and",
        "for",
        "you",
        "your",
        "with",
        "can",
        "how",
        "what",
        "this",
        "that",
        "are",
        "not",
        "have",
        "from",
        "there",
        "when",
        "will",
        "does",
        "did",
        "why",
        "where",
        "which",
        "who",
        "about",
        "into",
        "after",
        "been",
        "just",
        "like",
        "need",
        "want",
        "please",
        "help",
        "как",
        "что",
        "это",
        "для",
        "мне",
        "меня",
        "мой",
        "моя",
        "мои",
        "или",
        "его",
        "она",
        "они",
        "при",
        "после",
        "есть",
        "нет",
        "если",
        "можно",
        "хочу",
        "нужно",
        "нужен",
        "где",
        "когда",
        "почему",
        "уже",
        "всё",
        "все",
        "еще",
        "ещё",
        "вас",
        "ваш",
        "так",
        "там",
        "тут",
    ]
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # Luhn-valid numbers are cards; so is anything written in card-like groups (a mistyped
    # card is still a card). A bare run of digits failing Luhn is an order number or the like.
    if _luhn(digits) or _CARD_GROUPS.fullmatch(text):
        return "[card]"
    return text


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if text.startswith("+"):
        ok = 8 <= digits <= 15
    elif text[0] in "78" and digits == 11:
        ok = True  # a Russian number with its trunk prefix: 8 916 123 45 67, 89161234567
    else:
        # Local or national with an area code, written with separators: a bare run of
        # 7 or 10 digits is more often an order number or an ИНН.
        ok = digits in (7, 10) and not text.isdigit()
    return "[phone]" if ok else text


def mask_pii(text: str) -> str:
    """Replace e-mail addresses, card numbers and phone numbers with placeholders.

    Dates, times, order numbers and tax ids (ИНН) stay as they are: they are not
    personal contact data and they say what the question is about.
    """
    text = _EMAIL.sub("[email]", text)
    text = _CARD.sub(_card, text)
    return _PHONE.sub(_phone, text)


@dataclass(frozen=True, slots=True)
class Theme:
    """One cluster of unanswered messages."""

    size: int
    share: float
    keywords: list[str]
    examples: list[str]
    suggested_title: str = ""
    nearest_article: str | None = None
    """Id of the existing article closest to the theme (None without articles)."""
    nearest_similarity: float | None = None
    """Cosine similarity of that article to the theme's centre: high means the article
    exists but does not answer (rewrite it), low means a real gap (write one)."""


def kmeans(
    vectors: Vectors, k: int, weights: npt.NDArray[np.float64], *, seed: int = 0
) -> npt.NDArray[np.int64]:
    """scikit-learn's k-means on L2-normalised rows (so squared distance ranks as cosine),
    each message weighted by how often it was sent."""
    from sklearn.cluster import KMeans

    x = np.asarray(vectors, dtype=np.float64)
    k = max(1, min(k, x.shape[0]))
    model = KMeans(n_clusters=k, n_init=4, random_state=seed)
    return np.asarray(model.fit_predict(x, sample_weight=weights), dtype=np.int64)


THEME_MAX_DISTANCE = 0.75
"""Average cosine distance up to which groups of messages merge into one theme. Tuned on
the packaged multilingual encoder, where a question and its translation or paraphrase lie
0.5-0.7 apart and different questions further (the planted-theme test pins it)."""


def cluster_by_similarity(vectors: Vectors, max_distance: float) -> npt.NDArray[np.int64]:
    """scikit-learn's average-linkage clustering on cosine distance, cut at `max_distance`:
    as many themes as the messages form, none forced apart or together by a chosen k."""
    from sklearn.cluster import AgglomerativeClustering

    if vectors.shape[0] < 2:
        return np.zeros(vectors.shape[0], dtype=np.int64)
    model = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=max_distance
    )
    return np.asarray(model.fit_predict(np.asarray(vectors, dtype=np.float64)), dtype=np.int64)


_CONTACT = re.compile(
    r"(?:\b(?:my|email|e-mail|is|call|me|at|card|phone|number|мой|моя|мои|номер|почта|телефон"
    r"|карта|карты)\b[\s:,-]*){0,4}\[(?:email|card|phone)\]",
    re.IGNORECASE,
)


def question_part(masked: str) -> str:
    """A masked message without its masked data and the few words introducing it."""
    return re.sub(r"\s+", " ", _CONTACT.sub(" ", masked)).strip()


def _normalised(text: str) -> str:
    """The form examples are told apart by: case, spacing and punctuation do not count."""
    return " ".join(_WORD.findall(text.lower()))


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def suggest_title(example: str) -> str:
    """An article title from a theme's most typical question: masked, trimmed, capitalised."""
    title = _PLACEHOLDER.sub("", example).strip(" ,.;:!?-")
    title = re.sub(r"\s+", " ", title)
    return title[:1].upper() + title[1:] if title else example


def find_themes(
    texts: Sequence[str],
    embed: Embed,
    *,
    cluster: Cluster = kmeans,
    k: int | None = None,
    max_distance: float = THEME_MAX_DISTANCE,
    max_themes: int = 10,
    total: int | None = None,
    examples: int = 3,
    articles: Mapping[str, str] | None = None,
) -> list[Theme]:
    """Group unanswered messages into themes, largest first.

    Args:
        texts: the messages (a sample is fine; see `total`). They are masked here.
        embed: turns texts into normalised vectors.
        cluster: the clustering function when `k` is given (k-means by default).
        k: number of themes; None groups messages by similarity (`max_distance`), as many
            themes as there are.
        max_distance: with k None, how far apart (average cosine distance) two groups may
            be and still be one theme.
        max_themes: the largest themes kept.
        total: how many such messages there were in all, when `texts` is a sample; sizes
            are scaled up to it.
        examples: example messages per theme (closest to the theme's centre), no two the
            same but for case, spacing or punctuation.
        articles: id -> text of the existing articles; each theme names the closest.
    """
    if not texts:
        return []
    counts = Counter(mask_pii(t).strip() for t in texts if t.strip())
    unique = list(counts)
    if not unique:
        return []
    weights = np.array([counts[t] for t in unique], dtype=np.float64)
    # Masked data and the words that introduce it ("call me at [phone]") say nothing about
    # the question; left in, they would pull unrelated messages together.
    questions = [question_part(t) for t in unique]
    vectors = np.asarray(embed(questions), dtype=np.float32)
    x = vectors.astype(np.float64)
    if k is None:
        labels = cluster_by_similarity(vectors, max_distance)
    else:
        labels = cluster(vectors, k, weights)
    seen = float(weights.sum())
    scale = (total / seen) if total else 1.0
    overall: Counter[str] = Counter()
    for t, question in zip(unique, questions, strict=True):
        for w in set(_WORD.findall(question.lower())):
            overall[w] += counts[t]
    article_ids = list(articles or {})
    article_vectors = (
        np.asarray(embed([articles[i] for i in article_ids]), dtype=np.float64)
        if articles
        else np.zeros((0, x.shape[1]))
    )
    themes: list[Theme] = []
    for label in np.unique(labels).tolist():
        members = np.nonzero(labels == label)[0]
        weight = float(weights[members].sum())
        centre = (x[members] * weights[members, None]).sum(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        # Examples: the most typical messages, those without masked data first, and no two
        # alike (the same question with a phone number added is the same example).
        similarity_to_centre = x[members] @ centre
        masked = np.array([bool(_PLACEHOLDER.search(unique[i])) for i in members.tolist()])
        picked: list[int] = []
        said: list[set[str]] = []
        for i in members[np.lexsort((-similarity_to_centre, masked))].tolist():
            words_of = set(_normalised(questions[i]).split())
            if any(_jaccard(words_of, other) >= 0.6 for other in said):
                continue
            said.append(words_of)
            picked.append(i)
            if len(picked) == examples:
                break
        words: Counter[str] = Counter()
        for i in members.tolist():
            for w in set(_WORD.findall(questions[i].lower())):
                if w not in _STOP and w not in _PLACEHOLDER_NAMES:
                    words[w] += counts[unique[i]]
        # A keyword says what sets the theme apart: at least twice as common inside it as
        # in all unanswered messages (words around masked data are everywhere, so never).
        lift = {w: (words[w] / weight) / (overall[w] / seen) for w in words}
        ranked = sorted(
            (w for w in words if lift[w] >= 2.0 or len(np.unique(labels)) == 1),
            key=lambda w: (-words[w] * lift[w], w),
        )
        nearest: str | None = None
        similarity: float | None = None
        if article_ids:
            scores = article_vectors @ centre
            best = int(np.argmax(scores))
            nearest, similarity = article_ids[best], round(float(scores[best]), 3)
        themes.append(
            Theme(
                size=round(weight * scale),
                share=weight / seen,
                keywords=ranked[:4],
                examples=[unique[i] for i in picked],
                suggested_title=suggest_title(questions[picked[0]]),
                nearest_article=nearest,
                nearest_similarity=similarity,
            )
        )
    themes.sort(key=lambda t: -t.size)
    return themes[:max_themes]
