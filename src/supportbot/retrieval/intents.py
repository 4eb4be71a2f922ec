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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import Stemmer
from rapidfuzz import fuzz, process, utils
from rapidfuzz.distance import OSA, Indel

from supportbot.conversation.ports import Intent
from supportbot.domain.text import detranslit, normalize

# Phrases per intent, ru and en, in the words people actually use. Matching is on the whole
# message; the phrase lists are data, kept here because only this matcher reads them. PERSON
# is not a phrase list: `_PersonGrammar` below recognises it.
DEFAULT_PHRASES: Mapping[Intent, Sequence[str]] = {
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
        "ok",
        "okay",
        "да",
        "ага",
        "угу",
        "ок",
        "окей",
        "хорошо",
        "ладно",
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

_APOSTROPHE = re.compile(r"['’`ʼ]")  # "don't" -> "dont", "i'd" -> "id"
_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_DIGITS = re.compile(r"\d+")
_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_LATIN_WORD = re.compile(r"[a-z]+")
_MAX_WORDS = 8  # longer messages are questions, whatever words they contain
_MAX_PERSON_WORDS = 12  # longer messages that mention a person are questions
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


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Small talk is a message made only of these words, with at least one greeting or thanks in
# it: "hi there", "hello everyone", "спасибо, всё", "ok thanks bye" (not a phrase list: the
# words come in any order and number).
_GREETING_WORDS = _wordset(
    """
    hi hello hey heya hiya howdy greetings morning afternoon evening
    привет приветик приветствую здравствуйте здравствуй здрасте здрасьте хай салют утро день
    вечер privet zdravstvuyte
    """
)
_THANKS_WORDS = _wordset(
    """
    thanks thank thx ty tnx cheers appreciate appreciated
    спасибо спасибки благодарю спс пасиба сенкс мерси spasibo
    """
)
_SMALL_TALK_REST = _wordset(
    """
    there all everyone everybody folks team guys bot you u very much so lot a alot it its
    good great nice ok okay fine that thats is was bye goodbye again for your help
    доброе добрый доброго времени суток всем все вам тебе очень большое огромное
    понятно ясно ок окей хорошо отлично супер пока до свидания за помощь и еще раз
    """
)


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


# Articles, pronouns, prepositions, auxiliaries: no meaning of their own.
_FUNCTION_WORDS = _wordset(
    """
    a an the to of on in at for from with by about into through over via and or but so
    i im id ive me my mine we us our you your u ur it its this that these those there here
    is are am was were be been being do does did have has had can could may might will
    would should shall some any one just also too again still already yet then really
    actually ok okay hey yo
    я мне меня мной мы нам нас вы вам вас ты тебя тебе он она они его ее их
    с со на в во к ко по за о об от до из у для при и а но или же ли бы то это этот эта
    эти тут там здесь еще уже ну вот вообще просто уж снова опять тоже так мой моя мою мое
    мои ваш вашего вашу вашей ваши наш
    """
)

# The request-for-a-person grammar's words, ru and en. English words are compared as typed
# (a plural "s" dropped), Russian nouns by stem and Russian verbs by form, vowels folded.
_PERSON_EN = _wordset(
    "operator human person people agent representative rep specialist staff manager "
    "employee consultant"
)
_PERSON_RU = _wordset(
    "оператор человек люди специалист сотрудник консультант менеджер админ администратор "
    "представитель"
)
# "живой" by form: its stem "жив" is also "живу", "живет" (I live, lives).
_PERSON_RU_FORMS = _wordset(
    "живой живого живому живым живом живая живую живые живых живыми живое живенький"
)
# A person only when asked for: "connect me to support", not "support for my old phone".
_SERVICE_EN = _wordset("support someone somebody anyone anybody helpdesk")
_SERVICE_RU = _wordset("поддержка техподдержка саппорт")
# Being put through: a strong request ("позовите оператора, не приходит код").
_CONTACT_EN = _wordset(
    "talk speak connect contact reach escalate switch forward redirect put bring write"
)
_CONTACT_RU = _wordset(
    """
    позовите позови позвать зовите вызовите вызови вызвать дайте дай даи дать давайте давай
    ответьте ответь отзовитесь напишите написать соедините соедини соединить свяжите свяжи
    связать связаться переключите переключи переключить подключите подключи подключить
    поговорить говорить пообщаться общаться обратиться пригласите пригласи
    """
)
# Also being put through, unless money is moved: "переведите на человека", not "перевести
# деньги человеку" or "transfer money to someone".
_TRANSFER_EN = _wordset("transfer")
_TRANSFER_RU = _wordset("переведите переведи перевести")
_MONEY_EN = _wordset("money funds cash dollars euros rubles payment balance card sum amount")
_MONEY_RU_PREFIXES = ("деньг", "денег", "рубл", "сумм", "средств", "оплат", "платеж", "карт")
# A wish: weaker, "хочу в поддержку" yes, "нужна поддержка с картой" no.
_WISH_EN = _wordset("want wanna need get give like let lets request require")
_WISH_RU = _wordset(
    "хочу хотим хотел хотела хотелось нужен нужна нужно нужны надо можно можете прошу требую"
)
_QUESTION_WORDS = _wordset(
    """
    how why what whats when where wheres which whose
    как почему зачем сколько когда где куда откуда что чем чего каким
    """
)
_NEGATIONS_EN = _wordset(
    """
    not no never dont doesnt didnt cant cannot wont isnt arent wasnt werent havent hasnt
    couldnt shouldnt wouldnt nothing nobody without
    """
)
_NEGATIONS_RU = _wordset("не ни без нельзя")
# Words that make the person the topic of a question: "как стать оператором",
# "оператор мобильной связи", "how do i add a person to my group", "human resources".
_TOPIC_EN = _wordset(
    """
    become job jobs career vacancy hire hiring salary resources hr add remove invite kick ban
    delete mobile carrier cellular telecom rights access permission permissions role
    """
)
_TOPIC_RU_PREFIXES = (
    "стать",
    "стал",
    "стан",
    "работать",
    "работой",
    "работу",
    "ваканс",
    "зарплат",
    "связи",
    "мобильн",
    "сотов",
    "колл",
    "добав",
    "удал",
    "права",
    "правами",
    "доступ",
)
# Neither a person nor a question: the bot, politeness, "a real/live/another one".
_NEUTRAL_EN = _wordset(
    """
    bot robot ai machine chatbot chat live real actual another other different normal
    customer tech technical right away immediately urgent enough stop seriously sorry
    thanks thank finally
    """
)
_NEUTRAL_RU = _wordset(
    """
    бот бота боту ботом боты робот робота роботом ии алло ау эй есть кто нибудь либо хоть
    один одного какой какого какую наконец сюда блин хватит быстро сейчас прямо служба
    службу службы службой чат чата спасибо пж пжлст
    """
)
_NEUTRAL_RU_PREFIXES = ("реальн", "настоя", "нормальн", "друг", "адекватн", "компетентн", "обычн")
# Real words one edit away from a person word, which are not typos of it.
_NOT_TYPOS = _wordset("persona personas humane managed manages stuff employer")
# Two-word names of a service ("customer service", "кто-нибудь") or of a topic.
_SERVICE_PAIRS = frozenset(
    {
        ("customer", "service"),
        ("customer", "support"),
        ("customer", "care"),
        ("tech", "support"),
        ("technical", "support"),
        ("help", "desk"),
        ("кто", "нибудь"),
        ("кто", "то"),
        ("кто", "либо"),
    }
)
_TOPIC_PAIRS = frozenset({("call", "center"), ("call", "centre")})
# Said to the bot: "ты живой человек?", "is this a real person" ask what the bot is.
_ADDRESS = _wordset("you u this ты вы это")
# Negation reaches over these to the word it negates: "not a human", "не с оператором".
_NEGATION_SKIPS = _wordset("a an the to с со к")

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
