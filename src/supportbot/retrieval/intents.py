"""Fuzzy intents ("talk to a person", "next", "yes"/"no") and repeated-message detection.

Both compare whole short messages with rapidfuzz, so typos and word order do not matter but
a long question that merely mentions "human" is not mistaken for a request for one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rapidfuzz import fuzz, process, utils

from supportbot.conversation.ports import Intent
from supportbot.domain.text import normalize

# Phrases per intent, ru and en, in the words people actually use. Matching is on the whole
# message; the phrase lists are data, kept here because only this matcher reads them.
DEFAULT_PHRASES: Mapping[Intent, Sequence[str]] = {
    Intent.PERSON: (
        "operator",
        "human",
        "person",
        "agent",
        "live agent",
        "real person",
        "talk to a human",
        "talk to a person",
        "talk to an operator",
        "talk to an agent",
        "talk to support",
        "speak to a human",
        "speak to a person",
        "speak to someone",
        "i want to talk to a human",
        "i want to talk to a person",
        "i want to speak to a human",
        "i need a human",
        "i need a real person",
        "connect me to an operator",
        "connect me with a human",
        "can i talk to a human",
        "can i talk to someone",
        "let me talk to a person",
        "get me a human",
        "оператор",
        "человек",
        "живой человек",
        "позовите оператора",
        "позови оператора",
        "позовите человека",
        "дайте оператора",
        "нужен оператор",
        "нужен человек",
        "нужен живой человек",
        "хочу оператора",
        "хочу поговорить с оператором",
        "хочу поговорить с человеком",
        "хочу с человеком",
        "соедините с оператором",
        "соедините с человеком",
        "переключите на оператора",
        "свяжите с оператором",
        "свяжите меня с оператором",
        "можно оператора",
        "позовите живого человека",
        "техподдержка",
        "поддержка человек",
    ),
    Intent.GREETING: (
        "hi",
        "hello",
        "hey",
        "hi there",
        "hello there",
        "good morning",
        "good afternoon",
        "good evening",
        "привет",
        "приветик",
        "здравствуйте",
        "здравствуй",
        "добрый день",
        "доброе утро",
        "добрый вечер",
        "хай",
        "салют",
        "privet",
        "zdravstvuyte",
    ),
    Intent.THANKS: (
        "thanks",
        "thank you",
        "thanks a lot",
        "thank you very much",
        "thx",
        "ty",
        "cheers",
        "спасибо",
        "спасибо большое",
        "большое спасибо",
        "благодарю",
        "спс",
        "пасиба",
        "spasibo",
    ),
    Intent.NEXT: (
        "next",
        "next step",
        "continue",
        "go on",
        "done",
        "ok next",
        "done next",
        "далее",
        "дальше",
        "следующий",
        "следующий шаг",
        "продолжить",
        "продолжай",
        "готово",
        "сделал",
        "сделала",
        "ок дальше",
    ),
    Intent.YES: (
        "yes",
        "yep",
        "yeah",
        "yes it did",
        "it worked",
        "solved",
        "да",
        "ага",
        "да помогло",
        "помогло",
        "решено",
        "получилось",
    ),
    Intent.NO: (
        "no",
        "nope",
        "no it didnt",
        "didnt help",
        "it didnt work",
        "not solved",
        "нет",
        "не помогло",
        "не получилось",
        "не работает",
        "нет не помогло",
    ),
}

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_MAX_WORDS = 8  # longer messages are questions, whatever words they contain
# Politeness and urgency carry no intent: "позовите оператора пожалуйста срочно" = the phrase.
_FILLER = frozenset(
    {
        "please",
        "pls",
        "plz",
        "plese",
        "now",
        "asap",
        "urgently",
        "hi",
        "hello",
        "пожалуйста",
        "пожалуста",
        "плиз",
        "пжл",
        "срочно",
        "здравствуйте",
        "привет",
        "скорее",
    }
)


def _clean(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", normalize(text)).split())


def _strip_filler(text: str) -> str:
    words = [w for w in text.split() if w not in _FILLER]
    return " ".join(words) or text


class FuzzyIntentMatcher:
    """`IntentMatcher` over phrase lists with typo-tolerant whole-message matching.

    The score is the best of plain and word-order-insensitive similarity between the whole
    message and each phrase; short phrases need a higher score, because one changed letter
    turns "да" into "до".
    """

    def __init__(
        self,
        phrases: Mapping[Intent, Sequence[str]] = DEFAULT_PHRASES,
        *,
        score_cutoff: float = 84.0,
        short_cutoff: float = 95.0,
    ) -> None:
        self._choices: list[str] = []
        self._intents: list[Intent] = []
        for intent, items in phrases.items():
            for phrase in items:
                self._choices.append(_clean(phrase))
                self._intents.append(intent)
        self._cutoff = score_cutoff
        self._short_cutoff = short_cutoff

    def match(self, text: str) -> Intent | None:
        """The intent the whole message expresses, or None when it is just a question."""
        cleaned = _strip_filler(_clean(text))
        if not cleaned or len(cleaned.split()) > _MAX_WORDS:
            return None
        best: tuple[float, Intent] | None = None
        for scorer in (fuzz.ratio, fuzz.token_sort_ratio):
            found = process.extract(
                cleaned,
                self._choices,
                scorer=scorer,
                processor=utils.default_process,
                score_cutoff=self._cutoff,
                limit=5,
            )
            for _choice, score, index in found:
                needed = self._short_cutoff if len(self._choices[index]) <= 5 else self._cutoff
                if score >= needed and (best is None or score > best[0]):
                    best = (score, self._intents[index])
        return best[1] if best else None


class FuzzyDuplicateDetector:
    """`DuplicateDetector`: the same or nearly the same message (typos, word order, case)."""

    def __init__(self, *, score_cutoff: float = 90.0) -> None:
        self._cutoff = score_cutoff

    def is_duplicate(self, previous: str, current: str) -> bool:
        """True when `current` says what `previous` said."""
        a, b = _clean(previous), _clean(current)
        if not a or not b:
            return False
        if a == b:
            return True
        score = fuzz.token_sort_ratio(
            a, b, processor=utils.default_process, score_cutoff=self._cutoff
        )
        return score >= self._cutoff
