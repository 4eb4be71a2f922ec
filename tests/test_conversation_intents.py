"""The fuzzy intent matcher and duplicate detector (rapidfuzz, ru and en, typos)."""

from __future__ import annotations

import pytest

from supportbot.conversation.ports import Intent
from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("позовите оператора", Intent.PERSON),
        ("позавите аператора", Intent.PERSON),
        ("Позовите оператора, пожалуйста!", Intent.PERSON),
        ("i want to talk to a human", Intent.PERSON),
        ("i want to tlak to a humna", Intent.PERSON),
        ("HUMAN PLEASE", Intent.PERSON),
        ("хочу поговорить с человеком", Intent.PERSON),
        ("next", Intent.NEXT),
        ("далее", Intent.NEXT),
        ("дальше", Intent.NEXT),
        ("далше", Intent.NEXT),
        ("да", Intent.YES),
        ("yes", Intent.YES),
        ("нет", Intent.NO),
        ("не помогло", Intent.NO),
        ("hello", Intent.GREETING),
        ("Привет!", Intent.GREETING),
        ("здраствуйте", Intent.GREETING),
        ("спасибо большое", Intent.THANKS),
        ("thanks!", Intent.THANKS),
        # Small talk in more words than a phrase list holds (issue 12: these were handed off).
        ("hi there", Intent.GREETING),
        ("hello everyone!", Intent.GREETING),
        ("доброе утро всем", Intent.GREETING),
        ("спасибо, всё", Intent.THANKS),
        ("спасибо, всё понятно", Intent.THANKS),
        ("ok thanks, bye", Intent.THANKS),
        ("thank u so much for your help", Intent.THANKS),
    ],
)
def test_intents_recognise_phrases_with_typos(text: str, intent: Intent) -> None:
    assert FuzzyIntentMatcher().match(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "how do i delete my account",
        "my card was declined",
        "не приходит код подтверждения",
        "talk to my bank about a refund",
        "до",
        "hello my card was declined at the shop",
        "hi there, my card was declined",
        "спасибо, но код так и не пришел",
        "i talked to a human yesterday and they said my card is blocked for a week",
    ],
)
def test_intents_leave_questions_alone(text: str) -> None:
    assert FuzzyIntentMatcher().match(text) is None


def test_duplicates_detect_the_same_question_with_noise() -> None:
    d = FuzzyDuplicateDetector()
    assert d.is_duplicate("my card was declined", "My card was declined!!")
    assert d.is_duplicate("my card was declined", "my crad was declined")
    assert d.is_duplicate("забыл пароль", "Забыл пароль.")
    assert not d.is_duplicate("my card was declined", "how do i delete my profile")
    assert not d.is_duplicate("", "")
