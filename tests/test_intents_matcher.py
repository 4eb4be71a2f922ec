"""Phrase tables for the intent matcher and the duplicate detector (ru, en, translit, typos).

The tables are the measurement: every row is a message a user could send, with the intent the
conversation engine must see (or None: a question for the knowledge base).
"""

from __future__ import annotations

import pytest

from supportbot.conversation.ports import Intent
from supportbot.retrieval.intents import FuzzyDuplicateDetector, FuzzyIntentMatcher

ASKS_FOR_A_PERSON = [
    # Russian, plain words
    "позовите оператора",
    "Позовите оператора, пожалуйста!",
    "позови оператора",
    "позовите человека",
    "позовите живого человека",
    "позовите сотрудника поддержки",
    "позовите менеджера",
    "позовите админа",
    "бот, позови человека",
    "оператора позовите",
    "можно живого человека",
    "можно оператора",
    "можно консультанта?",
    "а можно с человеком поговорить?",
    "соедините со специалистом",
    "соедините с сотрудником",
    "соедините с оператором",
    "соедините с живым человеком пожалуйста",
    "свяжите со специалистом",
    "свяжите меня с оператором",
    "переключите на оператора",
    "переведите на человека",
    "дайте человека",
    "дайте оператора",
    "человека дайте уже",
    "хватит бот, дай человека",
    "с ботом не хочу, дайте оператора",
    "хочу живого оператора",
    "хочу оператора!!!",
    "хочу к оператору",
    "хочу поговорить с человеком",
    "хочу поговорить с живым человеком, а не с ботом",
    "хочу в поддержку",
    "живой оператор",
    "живой человек",
    "нужен оператор",
    "нужен живой человек",
    "нужна помощь оператора",
    "жалоба, нужен оператор",
    "кто-нибудь живой есть?",
    "есть кто живой?",
    "как связаться с оператором?",
    "оператор",
    "оператор!",
    "человек",
    "техподдержка",
    "служба поддержки",
    "нужен человек",
    "хочу с человеком",
    "соедините с человеком",
    "хочу поговорить с оператором",
    "поддержка человек",
    "оператора мне",
    "мне нужен живой оператор",
    "переключите меня на живого сотрудника",
    "дайте поговорить с человеком",
    "хочу общаться с оператором, а не с роботом",
    "можно связаться с менеджером?",
    "а живые люди тут есть?",
    "оператор, ответьте",
    "позовите кого-нибудь живого",
    "свяжите с техподдержкой",
    "хочу написать в поддержку",
    "позовите представителя",
    "позовите оператора, у меня не приходит код",
    # Russian with typos
    "позавите аператора",
    "позавите аператора пожалуйста",
    "соеденити с аператором",
    "пазавите опратора",
    "хачу с чиловеком",
    "дайте спецыалиста",
    "соедини с опертором",
    "позавите челавека",
    "оператара пжлст",
    # translit
    "pozovite operatora",
    "hochu operatora",
    "nuzhen operator",
    "dajte cheloveka",
    "zhivoy chelovek",
    "svyazhite s operatorom",
    "operatora pozovite",
    "hochu s chelovekom pogovorit",
    # English
    "operator",
    "human",
    "HUMAN PLEASE",
    "agent",
    "live agent",
    "real person",
    "a real human please",
    "I want a human",
    "i want to talk to a human",
    "i need a real person",
    "get me an agent",
    "get me a human",
    "can i get a human",
    "speak to a representative",
    "i'd like to speak to a representative",
    "can i talk to a live person",
    "i need to speak with someone",
    "let me talk to a person",
    "let me speak to your manager",
    "talk to support",
    "customer service",
    "customer support",
    "tech support",
    "support",
    "connect me to support please",
    "connect me with a human",
    "transfer me to an agent",
    "chat with a live agent",
    "how do i contact a human?",
    "is there a real person here?",
    "anyone there?",
    "are you a bot? i want a real human",
    "I don't want a bot, I want a human",
    "not a bot, a human please",
    "не с ботом, а с человеком",
    "нет, дайте человека",
    "no, i want a human",
    "бот не понимает, позовите оператора",
    "talk to an operator",
    "i need a human",
    "connect me to an operator",
    "can i talk to someone",
    "connect me to support staff",
    "human agent please",
    "live support",
    "talk to customer service",
    "can you connect me to an agent",
    "transfer to a live agent",
    "put me through to an operator",
    "let me talk to someone real",
    "need to talk to a person asap",
    "give me a human",
    # English with typos
    "i want to tlak to a humna",
    "talk to a humn",
    "opertor please",
    "connect me to an opertor",
    "i want a huamn",
    "speak to a representitive",
    "operater",
    "speak to humann",
]

QUESTIONS_NOT_PERSON = [
    # near words that are not a person
    "personal",
    "persona",
    "my personal data",
    "humane",
    "agenda",
    "operation failed",
    "позовите модератора",
    "персональные данные",
    # questions about people, operators, support
    "как стать оператором колл-центра",
    "хочу стать оператором",
    "human resources department phone",
    "human resources",
    "оператор связи не работает",
    "мой оператор мобильной связи списал деньги",
    "сменил мобильного оператора и не приходит смс",
    "how do I add a person to my group",
    "remove a person from my group chat",
    "how many people can join a group call",
    "человек взломал мой аккаунт",
    "как пожаловаться на человека",
    "как добавить человека в группу",
    "сколько человек может быть в чате",
    "someone hacked my account",
    "can someone explain the fees for transfers abroad",
    "support for my old phone",
    "what payment methods do you support",
    "поддержка двухфакторной аутентификации",
    "my support ticket was closed",
    "operator error when paying by card",
    "the agent app keeps crashing",
    "оператор не отвечает уже час, что делать?",
    # a person or support in a question about something else
    "how do I become a support agent",
    "how to give someone admin",
    "how to find a person by phone number",
    "как найти человека по номеру телефона",
    "which mobile operator do you support",
    "does the app support dark mode",
    "the operator closed my ticket without answering",
    "оператор закрыл обращение",
    "someone called me pretending to be support",
    "мне звонил человек из банка",
    "я живу в казахстане, можно оплатить?",
    "i need help with my card",
    "нужна поддержка по оплате",
    "i need support with my order",
    # money moved to a person is not being put through to one
    "can i transfer money to another person",
    "перевести деньги другому человеку",
    "хочу перевести деньги человеку",
    "need to transfer money to someone",
    # asking what the bot is
    "ты живой человек или робот",
    "is this a real person",
    # Russian words one letter from a person word
    "хочу отменить пока не отправили",
    # refusing a person
    "не надо оператора",
    "I don't need a human, just tell me how to reset my password",
    "no human needed",
    "i want a refund, not a human",
    # long messages that mention a human in passing
    "I tried everything the article said and talked to a friend who is a human too but "
    "nothing works with my card",
    "i talked to a human yesterday and they said my card is blocked for a week",
    "вчера говорил с оператором по телефону, он сказал что карта заблокирована на неделю, "
    "а сегодня снова не проходит оплата",
    # ordinary questions
    "how do i delete my account",
    "my card was declined",
    "не приходит код подтверждения",
    "talk to my bank about a refund",
    "до",
    "hello my card was declined at the shop",
]

# The other intents keep working as before (the engine decides what they mean in context).
OTHER_INTENTS = [
    ("next", Intent.NEXT),
    ("Next step", Intent.NEXT),
    ("далее", Intent.NEXT),
    ("дальше", Intent.NEXT),
    ("далше", Intent.NEXT),
    ("готово", Intent.NEXT),
    ("ок дальше", Intent.NEXT),
    ("да", Intent.YES),
    ("yes", Intent.YES),
    ("yeah", Intent.YES),
    ("да помогло", Intent.YES),
    ("нет", Intent.NO),
    ("no", Intent.NO),
    ("не помогло", Intent.NO),
    ("it didn't work", Intent.NO),
    ("hello", Intent.GREETING),
    ("Привет!", Intent.GREETING),
    ("здраствуйте", Intent.GREETING),
    ("добрый день", Intent.GREETING),
    ("спасибо большое", Intent.THANKS),
    ("thanks!", Intent.THANKS),
    ("thank you very much", Intent.THANKS),
    ("благодарю", Intent.THANKS),
]

DUPLICATES = [
    ("my card was declined", "my card was declined"),
    ("my card was declined", "My card was declined!!"),
    ("my card was declined", "my crad was declined"),
    ("my card was declined", "my card was declned"),
    ("Не приходит код!!", "не приходит код"),
    ("не приходит код", "код не приходит"),
    ("не приходит код", "не приходит код для входа"),
    ("забыл пароль", "Забыл пароль."),
    ("заказ 12345 не пришел", "заказ 12345 не пришёл"),
    ("почему не приходит смс", "почему не приходят смс"),
    ("I can't log in", "I cannot log in"),
    ("I can't log in", "i cant login"),
    ("how do i reset my password", "how do i reset my pasword"),
    ("не могу войти в аккаунт", "не могу войти в акаунт"),
    ("the app keeps crashing", "app keeps crashing"),
    ("не могу войти", "не могу вайти"),
    ("где мой заказ", "где мой закз"),
    ("оплата не проходит", "оплата не проходит картой"),
    ("how do i change my phone number", "how do i change my phone numbr"),
]

DIFFERENT_QUESTIONS = [
    ("не могу войти", "не могу выйти"),
    ("my card was declined", "my card was not declined"),
    ("I can't log in", "I can log in"),
    ("заказ 12345 не пришел", "заказ 12346 не пришел"),
    ("верните деньги за заказ 555", "верните деньги за заказ 556"),
    ("я не получил код", "я получил код"),
    ("my card was declined", "how do i delete my profile"),
    ("how do i delete my account", "how do i delete my profile"),
    ("forgot my password", "forgot my username"),
    ("the app crashes on start", "the app crashes on exit"),
    ("как включить уведомления", "как выключить уведомления"),
    ("как подключить подписку", "как отключить подписку"),
    ("хочу отменить заказ", "хочу изменить заказ"),
    ("оплата не проходит", "оплата проходит"),
    ("wheres my order", "where do i collect my order"),
    ("is this a real person", "can i speak to a real person"),
    ("", ""),
]


@pytest.mark.parametrize("text", ASKS_FOR_A_PERSON)
def test_matcher_recognises_a_request_for_a_person(text: str) -> None:
    assert FuzzyIntentMatcher().match(text) is Intent.PERSON


@pytest.mark.parametrize("text", QUESTIONS_NOT_PERSON)
def test_matcher_leaves_questions_and_near_words_alone(text: str) -> None:
    assert FuzzyIntentMatcher().match(text) is None


@pytest.mark.parametrize(("text", "intent"), OTHER_INTENTS)
def test_matcher_keeps_the_other_intents(text: str, intent: Intent) -> None:
    assert FuzzyIntentMatcher().match(text) is intent


@pytest.mark.parametrize(("previous", "current"), DUPLICATES)
def test_duplicates_accept_repeats_with_typos_order_and_small_additions(
    previous: str, current: str
) -> None:
    assert FuzzyDuplicateDetector().is_duplicate(previous, current)


@pytest.mark.parametrize(("previous", "current"), DIFFERENT_QUESTIONS)
def test_duplicates_tell_apart_questions_that_differ_in_a_word_number_or_negation(
    previous: str, current: str
) -> None:
    assert not FuzzyDuplicateDetector().is_duplicate(previous, current)
