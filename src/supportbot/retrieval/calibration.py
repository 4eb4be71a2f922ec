"""How sure the suggester may be: the confidence model and the gates of a direct answer.

Confidence is the probability that the top article is the right one. It is a logistic model
over (top fused score, margin to the runner-up), fitted on each help center by itself: its
own `questions`, each left out of the index in turn (labelled by whether the right article
came first), and the same questions with their article removed ("leave the article out"),
which stand for messages no article answers, including the near misses: the best remaining
article is usually a neighbour of the right one. Those two groups are equally large; real
traffic has far fewer unanswerable messages, so the fit weighs them as `IN_SCOPE_PRIOR`
says. Nothing is fitted on any labelled evaluation set: an earlier second stage fitted on the
project's own two help centers made a help center of another kind over-confident (near-miss
messages answered directly) and was dropped.

A direct answer needs more than confidence: the message must be in the article's language
(another language's article is suggested, never answered), and most of the message's own
words must be the article's words (title and questions, typos allowed). A message that only
shares the topic ("как отключить уведомления?" against «Не приходят уведомления») gets the
article among suggestions instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from rapidfuzz import utils
from rapidfuzz.distance import Levenshtein

Matrix = npt.NDArray[np.float64]

# The share of messages some article answers, assumed for a help center in use (the
# issue's field report: about 80%). It sets how much the leave-the-article-out questions
# weigh against the answerable ones.
IN_SCOPE_PRIOR = 0.8
# The L2 strength of the logistic fit (the hand-written Newton fit it replaced used 1e-2).
L2 = 1e-2
# A direct answer needs more than two thirds of the message's words among the article's own
# words: all of two, three of four ("turn notifications off" against "notifications not
# arriving" is suggested, not answered).
ANSWER_COVERAGE = 0.67
# A word this long may differ from the article's by one edit and still count (a typo).
TYPO_MIN_LENGTH = 5


def fit_logistic(
    features: Matrix, labels: Matrix, sample_weight: Matrix | None = None, l2: float = L2
) -> tuple[float, ...]:
    """Weighted L2-regularised logistic regression (scikit-learn; the bias is not penalised).

    Returns the coefficients followed by the intercept.
    """
    from sklearn.linear_model import LogisticRegression  # heavy: only when fitting

    model = LogisticRegression(C=1.0 / l2, tol=1e-10, max_iter=1000)
    model.fit(features, labels, sample_weight=sample_weight)
    return (*(float(c) for c in model.coef_[0]), float(model.intercept_[0]))


def prior_weights(labels: Matrix, negatives: npt.NDArray[np.bool_]) -> Matrix:
    """Sample weights that make the leave-the-article-out rows weigh 1 - IN_SCOPE_PRIOR."""
    n_neg = int(negatives.sum())
    n_pos = len(labels) - n_neg
    weights = np.ones(len(labels))
    if n_neg and n_pos:
        weights[negatives] = (1 - IN_SCOPE_PRIOR) / IN_SCOPE_PRIOR * n_pos / n_neg
    return weights


def auroc(positives: Matrix, negatives: Matrix) -> float:
    """Area under the ROC curve: the chance a positive scores above a negative (ties: half).

    NaN when either group is empty.
    """
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    # The Mann-Whitney U statistic over scipy's tie-averaged ranks: equal to scikit-learn's
    # roc_auc_score (a test pins it) at a twentieth of its cost, which matters because the
    # weight search evaluates it a few thousand times per fit.
    from scipy.stats import rankdata

    n_pos, n_neg = len(positives), len(negatives)
    ranks = rankdata(np.concatenate([positives, negatives]))
    return float((ranks[:n_pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def coverage(message: Sequence[str], article: Iterable[str]) -> float:
    """The share of the message's words (stems) that are words of the article, a word of
    `TYPO_MIN_LENGTH` letters or more also when one edit away ("declinded")."""
    if not message:
        return 1.0
    own = set(article)
    return sum(_found(word, own) for word in message) / len(message)


def _found(word: str, own: set[str]) -> bool:
    if word in own:
        return True
    return len(word) >= TYPO_MIN_LENGTH and any(
        Levenshtein.distance(word, other, processor=utils.default_process, score_cutoff=1) <= 1
        for other in own
    )
