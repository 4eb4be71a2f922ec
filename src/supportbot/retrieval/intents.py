"""Fuzzy intents ("talk to a person", "next", "yes"/"no") and repeated-message detection.

A request for a person is recognised by a small grammar over the message's words, not by a
phrase list: a person word ("оператор", "human", "поддержка") asked for by a request word
("позовите", "talk to", "хочу") or standing alone, in a short message with little else in it.
Words are compared typo-tolerantly (rapidfuzz edit distance; Russian by stem, with unstressed
vowels folded), and Russian typed in Latin letters is read back into Cyrillic. The other
intents are whole-message phrase matches. The duplicate detector compares messages word by
word: a typo, a changed word order or one extra word is the same question; another word,
another number or a negation is a different one.
"""

from __future__ import annotations

import enum
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import Stemmer
from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import OSA, Indel

from supportbot.conversation.ports import Intent
from supportbot.domain.text import detranslit, normalize

_APOSTROPHE = re.compile(r"['’`ʼ]")  # "don't" -> "dont", "i'd" -> "id"
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN_WORD = re.compile(r"[a-z]+")
_MAX_WORDS = 8  # longer messages are questions, whatever words they contain
_MAX_PERSON_WORDS = 12  # longer messages that mention a person are questions

# The word lists are data (intent_words.toml beside this module), read once on import.
_DATA: Mapping[str, Any] = tomllib.loads(
    resources.files(__package__ or "supportbot.retrieval")
    .joinpath("intent_words.toml")
    .read_text(encoding="utf-8")
)


def _words(name: str) -> frozenset[str]:
    return frozenset(_DATA["words"][name])


def _prefixes(name: str) -> tuple[str, ...]:
    return tuple(_DATA["words"][name])


def _pairs(name: str) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for a, b in _DATA["pairs"][name])


# Phrases per intent, ru and en; matching is on the whole message. PERSON is not a phrase
# list: `_PersonGrammar` below recognises it.
DEFAULT_PHRASES: Mapping[Intent, Sequence[str]] = {
    Intent(intent): tuple(phrases) for intent, phrases in _DATA["phrases"].items()
}
# What each list is for is written next to it in the TOML file.
_FILLER = _words("filler")
_GREETING_WORDS = _words("greeting_words")
_THANKS_WORDS = _words("thanks_words")
_SMALL_TALK_REST = _words("small_talk_rest")
_FUNCTION_WORDS = _words("function_words")
_PERSON_EN = _words("person_en")
_PERSON_RU = _words("person_ru")
_PERSON_RU_FORMS = _words("person_ru_forms")
_SERVICE_EN = _words("service_en")
_SERVICE_RU = _words("service_ru")
_CONTACT_EN = _words("contact_en")
_CONTACT_RU = _words("contact_ru")
_TRANSFER_EN = _words("transfer_en")
_TRANSFER_RU = _words("transfer_ru")
_MONEY_EN = _words("money_en")
_MONEY_RU_PREFIXES = _prefixes("money_ru_prefixes")
_WISH_EN = _words("wish_en")
_WISH_RU = _words("wish_ru")
_QUESTION_WORDS = _words("question_words")
_NEGATIONS_EN = _words("negations_en")
_NEGATIONS_RU = _words("negations_ru")
_TOPIC_EN = _words("topic_en")
_TOPIC_RU_PREFIXES = _prefixes("topic_ru_prefixes")
_NEUTRAL_EN = _words("neutral_en")
_NEUTRAL_RU = _words("neutral_ru")
_NEUTRAL_RU_PREFIXES = _prefixes("neutral_ru_prefixes")
_NOT_TYPOS = _words("not_typos")
_SERVICE_PAIRS = _pairs("service")
_TOPIC_PAIRS = _pairs("topic")
_ADDRESS = _words("address")
_NEGATION_SKIPS = _words("negation_skips")


def _small_talk(words: Sequence[str]) -> Intent | None:
    """GREETING or THANKS when the message is nothing but small talk."""
    if not words or len(words) > _MAX_WORDS:
        return None
    greets = thanks = False
    for word in words:
        if word in _THANKS_WORDS or (len(word) >= 5 and _near(word, _THANKS_WORDS, folded=False)):
            thanks = True
        elif word in _GREETING_WORDS or (
            len(word) >= 6 and _near(word, _GREETING_WORDS, folded=False)
        ):
            greets = True
        elif word not in _SMALL_TALK_REST and word not in _FILLER:
            return None
    if thanks:
        return Intent.THANKS
    return Intent.GREETING if greets else None


# Russian unstressed vowels are the commonest typo ("позавите аператора", "чиловек").
_VOWEL_FOLD = str.maketrans({"о": "а", "е": "и", "я": "и", "э": "и"})
# Russian typed in Latin letters: "zhivoy" -> "живоы" -> "живой".
_TRANSLIT_Y = re.compile(r"(?<=[аеиоуыэюя])ы")


def _clean(text: str) -> str:
    text = _APOSTROPHE.sub("", normalize(text))
    return " ".join(_PUNCT.sub(" ", text).split())


def _strip_filler(text: str) -> str:
    words = [w for w in text.split() if w not in _FILLER]
    return " ".join(words) or text


def _is_latin(word: str) -> bool:
    return _LATIN_WORD.fullmatch(word) is not None


def _from_translit(word: str) -> str:
    return _TRANSLIT_Y.sub("й", detranslit(word)) if _is_latin(word) else word


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance (a swap of neighbours is one edit), capped at limit+1."""
    return int(OSA.distance(a, b, processor=utils.default_process, score_cutoff=limit))


def _near(token: str, words: Iterable[str], *, folded: bool) -> bool:
    """True when `token` is one of `words` or a typo of one (more edits in longer words).

    English: one edit from five letters, two from nine; four-letter words only allow a swap
    ("tlak"), since one changed letter makes another word. Russian words come with their
    unstressed vowels folded, which absorbs most typos, so edits are allowed from six letters
    on ("отмен" is not "админ"), two from ten.
    """
    if len(token) < 4:
        return token in words
    one, two = (6, 10) if folded else (5, 9)
    for word in words:
        if token == word:
            return True
        allowed = 2 if len(word) >= two else 1 if len(word) >= one else 0
        if len(word) == 4 and not folded:
            allowed = 1 if sorted(token) == sorted(word) else 0
        if allowed and _edit_distance(token, word, allowed) <= allowed:
            return True
    return False


class _Kind(enum.Enum):
    PERSON = "person"  # operator, человек: a person, asked for or named alone
    SERVICE = "service"  # support, someone, поддержка: a person only in a request
    CONTACT = "contact"  # talk to, позовите: a request to be put through
    WISH = "wish"  # want, хочу, можно: a weaker request
    QUESTION = "question"  # how, как: a question about something
    NEGATION = "negation"
    TOPIC = "topic"  # become, add, мобильной: the person is what the question is about
    ADDRESS = "address"  # you, ты: said to the bot
    TRANSFER = "transfer"  # transfer, переведите: CONTACT unless money is moved
    MONEY = "money"  # money, деньги: a transfer of money, not to a person
    LINK = "link"  # a, the, to, с: negation reaches over it ("not a human")
    NEUTRAL = "neutral"
    CONTENT = "content"  # any other word: what a question is made of


@dataclass(frozen=True)
class _Vocabulary:
    """One language's word lists, prepared for comparison (Russian: folded stems/forms)."""

    person: frozenset[str]
    service: frozenset[str]
    contact: frozenset[str]
    transfer: frozenset[str]
    wish: frozenset[str]
    folded: bool  # Russian: unstressed vowels folded, stems for nouns


class _PersonGrammar:
    """Tells whether a short message asks for a person.

    A message asks for one when it names a person (or a service, in a request) that is not
    negated, nothing in it makes the person a topic ("как стать оператором"), and the words
    that are neither request nor person are few: none for a bare noun phrase ("живой
    оператор", "customer service"), up to three after "позовите"/"talk to", fewer after a
    mere wish, and at most one once a question word is among them.
    """

    _BUDGET: Mapping[tuple[_Kind, bool], int] = {
        (_Kind.CONTACT, True): 3,
        (_Kind.CONTACT, False): 1,
        (_Kind.WISH, True): 2,
        (_Kind.WISH, False): 0,
    }

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("russian")
        self._en = _Vocabulary(
            person=_PERSON_EN,
            service=_SERVICE_EN,
            contact=_CONTACT_EN,
            transfer=_TRANSFER_EN,
            wish=_WISH_EN,
            folded=False,
        )
        self._ru = _Vocabulary(
            person=frozenset(self._ru_stem(w) for w in _PERSON_RU),
            service=frozenset(self._ru_stem(w) for w in _SERVICE_RU),
            contact=frozenset(w.translate(_VOWEL_FOLD) for w in _CONTACT_RU),
            transfer=frozenset(w.translate(_VOWEL_FOLD) for w in _TRANSFER_RU),
            wish=frozenset(w.translate(_VOWEL_FOLD) for w in _WISH_RU),
            folded=True,
        )

    def _ru_stem(self, word: str) -> str:
        return str(self._stemmer.stemWord(word)).translate(_VOWEL_FOLD)

    def asks_for_person(self, words: Sequence[str]) -> bool:
        """True when the (cleaned) words ask for a person, read as typed or as translit."""
        if not words or len(words) > _MAX_PERSON_WORDS:
            return False
        if self._decide(self._kinds(words)):
            return True
        if not any(_is_latin(w) for w in words):
            return False
        return self._decide(self._kinds([_from_translit(w) for w in words]))

    def _kinds(self, words: Sequence[str]) -> list[_Kind]:
        kinds: list[_Kind] = []
        i = 0
        while i < len(words):
            pair = (words[i], words[i + 1]) if i + 1 < len(words) else None
            if pair in _SERVICE_PAIRS or pair in _TOPIC_PAIRS:
                kinds.append(_Kind.SERVICE if pair in _SERVICE_PAIRS else _Kind.TOPIC)
                i += 2
                continue
            kinds.append(self._kind(words[i]))
            i += 1
        return kinds

    def _kind(self, word: str) -> _Kind:
        if word in _NEGATION_SKIPS:
            return _Kind.LINK
        if word in _ADDRESS:
            return _Kind.ADDRESS
        if word in _QUESTION_WORDS:
            return _Kind.QUESTION
        if word in _NEGATIONS_EN or word in _NEGATIONS_RU:
            return _Kind.NEGATION
        if word in _FUNCTION_WORDS or word in _FILLER:
            return _Kind.NEUTRAL
        if word in _NOT_TYPOS or word.isdigit():
            return _Kind.CONTENT
        if _CYRILLIC.search(word):
            return self._kind_ru(word)
        if not _is_latin(word):
            return _Kind.CONTENT
        if word in _TOPIC_EN:
            return _Kind.TOPIC
        if word in _MONEY_EN:
            return _Kind.MONEY
        if word in _NEUTRAL_EN:
            return _Kind.NEUTRAL
        singular = word[:-1] if len(word) > 4 and word.endswith("s") else word
        return self._classify(singular, singular, self._en)

    def _kind_ru(self, word: str) -> _Kind:
        if word.startswith(_TOPIC_RU_PREFIXES):
            return _Kind.TOPIC
        if word.startswith(_MONEY_RU_PREFIXES):
            return _Kind.MONEY
        if word in _NEUTRAL_RU or word.startswith(_NEUTRAL_RU_PREFIXES):
            return _Kind.NEUTRAL
        if word in _PERSON_RU_FORMS:
            return _Kind.PERSON
        return self._classify(self._ru_stem(word), word.translate(_VOWEL_FOLD), self._ru)

    @staticmethod
    def _classify(stem: str, form: str, vocabulary: _Vocabulary) -> _Kind:
        folded = vocabulary.folded
        if _near(stem, vocabulary.person, folded=folded):
            return _Kind.PERSON
        if _near(stem, vocabulary.service, folded=folded):
            return _Kind.SERVICE
        if _near(form, vocabulary.contact, folded=folded):
            return _Kind.CONTACT
        if _near(form, vocabulary.transfer, folded=folded):
            return _Kind.TRANSFER
        if _near(form, vocabulary.wish, folded=folded):
            return _Kind.WISH
        return _Kind.CONTENT

    def _decide(self, kinds: Sequence[_Kind]) -> bool:
        if _Kind.TOPIC in kinds or {_Kind.TRANSFER, _Kind.MONEY} <= set(kinds):
            return False
        kinds = [_Kind.CONTACT if k is _Kind.TRANSFER else k for k in kinds]
        negated = _negated(kinds)
        asked = [k for i, k in enumerate(kinds) if i not in negated]
        refused = any(kinds[i] in _ASKING for i in negated)
        if _Kind.PERSON not in asked and _Kind.SERVICE not in asked:
            return False
        strong = _Kind.PERSON in asked
        content = sum(k in {_Kind.CONTENT, _Kind.QUESTION, _Kind.MONEY} for k in kinds)
        if _Kind.CONTACT in asked:
            budget = self._BUDGET[_Kind.CONTACT, strong]
        elif _Kind.WISH in asked:
            budget = self._BUDGET[_Kind.WISH, strong]
        elif refused or _Kind.ADDRESS in kinds:  # "не надо оператора", "ты человек?"
            return False
        else:
            budget = 0
        if _Kind.QUESTION in kinds:
            budget = min(budget, 1)
        return content <= budget


_ASKING = frozenset({_Kind.PERSON, _Kind.SERVICE, _Kind.CONTACT, _Kind.WISH})


def _negated(kinds: Sequence[_Kind]) -> set[int]:
    """Indexes of the words a negation applies to: the next one that is not an article."""
    negated: set[int] = set()
    pending = False
    for i, kind in enumerate(kinds):
        if kind is _Kind.NEGATION:
            pending = True
        elif pending and kind is not _Kind.LINK:
            negated.add(i)
            pending = False
    return negated


class FuzzyIntentMatcher:
    """`IntentMatcher`: a request for a person by grammar, the other intents by phrase lists.

    The phrase score is the best of plain and word-order-insensitive similarity between the
    whole message and each phrase; short phrases need a higher score, because one changed
    letter turns "да" into "до".
    """

    def __init__(
        self,
        phrases: Mapping[Intent, Sequence[str]] = DEFAULT_PHRASES,
        *,
        score_cutoff: float = 84.0,
        short_cutoff: float = 95.0,
    ) -> None:
        self._person = _PersonGrammar()
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
        words = _clean(text).split()
        if self._person.asks_for_person(words):
            return Intent.PERSON
        small_talk = _small_talk(words)
        if small_talk is not None:
            return small_talk
        cleaned = _strip_filler(" ".join(words))
        if not cleaned or len(cleaned.split()) > _MAX_WORDS:
            return None
        return self._phrase(cleaned)

    def _phrase(self, cleaned: str) -> Intent | None:
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


@dataclass(frozen=True)
class _Word:
    text: str
    stem: str  # compared for equality: "приходит" = "приходят", "declined" = "declines"
    position: int  # among the message's content words


class FuzzyDuplicateDetector:
    """`DuplicateDetector`: the same or nearly the same message (typos, word order, case).

    Messages are compared word by word, function words aside. They say the same when their
    numbers and negations agree, neither is a request for a person the other is not, and every
    word of one is a word of the other (equal by stem, or a typo of it) except at most
    `max_extra_words` words added at the end of a message of two or more words ("не приходит
    код" = "не приходит код для входа"; "where's my order" is not "where do i collect my
    order"). A typo is a swapped, missing or extra letter, or one changed letter in a word of
    seven or more, never in its first two letters: "crad" is "card", but "войти"/"выйти" and
    "включить"/"выключить" are two words. Messages without content words fall back to
    whole-text similarity (rapidfuzz, `score_cutoff`).
    """

    def __init__(self, *, score_cutoff: float = 90.0, max_extra_words: int = 1) -> None:
        self._cutoff = score_cutoff
        self._max_extra = max_extra_words
        self._ru = Stemmer.Stemmer("russian")
        self._en = Stemmer.Stemmer("english")
        self._person = _PersonGrammar()

    def is_duplicate(self, previous: str, current: str) -> bool:
        """True when `current` says what `previous` said."""
        a, b = _clean(previous), _clean(current)
        if not a or not b:
            return False
        if a.replace(" ", "") == b.replace(" ", ""):  # "log in" = "login"
            return True
        if sorted(_DIGITS.findall(a)) != sorted(_DIGITS.findall(b)):  # order 12345 vs 12346
            return False
        if _has_negation(a) != _has_negation(b):
            return False
        if self._person.asks_for_person(a.split()) != self._person.asks_for_person(b.split()):
            return False  # "is this a real person" then "can i speak to a real person"
        words_a, words_b = self._content(a), self._content(b)
        if not words_a or not words_b:
            score = fuzz.token_sort_ratio(
                a, b, processor=utils.default_process, score_cutoff=self._cutoff
            )
            return score >= self._cutoff
        only_a, only_b = _unmatched(words_a, words_b)
        if only_a and only_b:
            return False  # a word of each is not in the other: "войти" / "выйти"
        extra, longer = (only_a, words_a) if only_a else (only_b, words_b)
        if not extra:
            return True
        shorter = words_b if only_a else words_a
        shared = [w.position for w in longer if w not in extra]
        return (
            len(extra) <= self._max_extra
            and sum(w.text not in _QUESTION_WORDS for w in shorter) >= 2
            and min(w.position for w in extra) > max(shared, default=-1)
        )

    def _content(self, text: str) -> list[_Word]:
        words: list[_Word] = []
        for word in text.split():
            if word in _FUNCTION_WORDS or word in _FILLER or word.isdigit():
                continue
            if word in _NEGATIONS_EN or word in _NEGATIONS_RU:
                continue
            stemmer = self._ru if _CYRILLIC.search(word) else self._en
            stem = str(stemmer.stemWord(word)).translate(_VOWEL_FOLD)
            words.append(_Word(word, stem, len(words)))
        return words


def _unmatched(words_a: list[_Word], words_b: list[_Word]) -> tuple[list[_Word], list[_Word]]:
    """The words of each message that are in the other neither by stem nor as a typo."""
    stems_a, stems_b = {w.stem for w in words_a}, {w.stem for w in words_b}
    only_a = [w for w in words_a if w.stem not in stems_b]
    only_b = [w for w in words_b if w.stem not in stems_a]
    for word in list(only_a):
        twin = next((w for w in only_b if _is_typo(word.text, w.text)), None)
        if twin is not None:
            only_a.remove(word)
            only_b.remove(twin)
    return only_a, only_b


def _has_negation(text: str) -> bool:
    return any(w in _NEGATIONS_EN or w in _NEGATIONS_RU or w == "нет" for w in text.split())


def _is_typo(a: str, b: str) -> bool:
    """True when one word is a typo of the other, not another word one letter away."""
    if a.translate(_VOWEL_FOLD) == b.translate(_VOWEL_FOLD):
        return True  # "вайти" is "войти"
    shorter = min(len(a), len(b))
    if shorter < 4:
        return False
    if sorted(a) == sorted(b) and _edit_distance(a, b, 1) == 1:
        return True  # two neighbouring letters swapped: "crad"
    if a[:2] != b[:2]:
        return False  # a prefix: "включить" / "выключить", "подключить" / "отключить"
    distance = _edit_distance(a, b, 2)
    if distance == 1:
        insertion = int(Indel.distance(a, b, processor=utils.default_process, score_cutoff=1))
        return insertion == 1 or shorter >= 7  # a missing/extra letter, or a long word
    return distance == 2 and shorter >= 9
