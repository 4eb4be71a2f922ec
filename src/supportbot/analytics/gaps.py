"""Content gaps: questions nothing in the knowledge base answered, grouped into themes.

Personal data is masked before anything else happens, so it is neither embedded nor shown.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
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


def kmeans(
    vectors: Vectors, k: int, weights: npt.NDArray[np.float64], *, seed: int = 0, iters: int = 50
) -> npt.NDArray[np.int64]:
    """Weighted spherical k-means with k-means++ seeding (cosine on L2-normalised rows)."""
    n = vectors.shape[0]
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    x = vectors.astype(np.float64)
    centres = [x[int(rng.choice(n, p=weights / weights.sum()))]]
    for _ in range(1, k):
        dist = np.min(1.0 - x @ np.array(centres).T, axis=1).clip(min=0) * weights
        total = dist.sum()
        pick = int(rng.choice(n, p=dist / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[pick])
    c = np.array(centres)
    labels = np.zeros(n, dtype=np.int64)
    for step in range(iters):
        new = np.argmax(x @ c.T, axis=1).astype(np.int64)
        if step and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = labels == j
            if members.any():
                centre = (x[members] * weights[members, None]).sum(axis=0)
                norm = np.linalg.norm(centre)
                c[j] = centre / norm if norm > 0 else centre
    return labels


def _silhouette(x: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]) -> float:
    dist = np.clip(1.0 - x @ x.T, 0.0, 2.0)
    ks = np.unique(labels)
    if ks.size < 2:
        return -1.0
    mean_to = np.stack([dist[:, labels == k].mean(axis=1) for k in ks], axis=1)
    own = np.searchsorted(ks, labels)
    counts = np.bincount(own, minlength=ks.size)
    a = mean_to[np.arange(len(labels)), own] * counts[own] / np.maximum(counts[own] - 1, 1)
    mean_to[np.arange(len(labels)), own] = np.inf
    b = mean_to.min(axis=1)
    s = np.where(counts[own] > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(s.mean())


def find_themes(
    texts: Sequence[str],
    embed: Embed,
    *,
    cluster: Cluster = kmeans,
    k: int | None = None,
    max_k: int = 8,
    total: int | None = None,
    examples: int = 3,
) -> list[Theme]:
    """Group unanswered messages into themes, largest first.

    Args:
        texts: the messages (a sample is fine; see `total`). They are masked here.
        embed: turns texts into normalised vectors.
        cluster: the clustering function (numpy k-means by default; faiss is pluggable).
        k: number of themes; None picks the best silhouette in 2..max_k.
        max_k: the largest k tried.
        total: how many such messages there were in all, when `texts` is a sample; sizes
            are scaled up to it.
        examples: example messages per theme (closest to the theme's centre).
    """
    if not texts:
        return []
    counts = Counter(mask_pii(t).strip() for t in texts if t.strip())
    unique = list(counts)
    if not unique:
        return []
    weights = np.array([counts[t] for t in unique], dtype=np.float64)
    # Placeholders say nothing about the question; left in, they would pull messages together.
    vectors = np.asarray(embed([_PLACEHOLDER.sub(" ", t) for t in unique]), dtype=np.float32)
    x = vectors.astype(np.float64)
    if k is None:
        best: tuple[float, npt.NDArray[np.int64]] | None = None
        # Silhouette on at most 1500 points keeps the distance matrix small.
        probe = np.arange(len(unique))[:1500]
        for candidate in range(2, min(max_k, len(unique) - 1) + 1):
            labels = cluster(vectors, candidate, weights)
            score = _silhouette(x[probe], labels[probe])
            if best is None or score > best[0]:
                best = (score, labels)
        labels = best[1] if best is not None else np.zeros(len(unique), dtype=np.int64)
    else:
        labels = cluster(vectors, k, weights)
    seen = float(weights.sum())
    scale = (total / seen) if total else 1.0
    overall = Counter(w for t in unique for w in set(_WORD.findall(t.lower())))
    themes: list[Theme] = []
    for label in np.unique(labels).tolist():
        members = np.nonzero(labels == label)[0]
        weight = float(weights[members].sum())
        centre = (x[members] * weights[members, None]).sum(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        closest = members[np.argsort(-(x[members] @ centre))][:examples]
        words: Counter[str] = Counter()
        for i in members.tolist():
            for w in set(_WORD.findall(_PLACEHOLDER.sub(" ", unique[i]).lower())):
                if w not in _STOP:
                    words[w] += counts[unique[i]]
        ranked = sorted(words, key=lambda w: (-words[w] * words[w] / overall[w], w))
        themes.append(
            Theme(
                size=round(weight * scale),
                share=weight / seen,
                keywords=ranked[:4],
                examples=[unique[i] for i in closest.tolist()],
            )
        )
    themes.sort(key=lambda t: -t.size)
    return themes
