"""What the engine says: channel-free messages with actions; adapters render and localise them."""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from supportbot.domain.handoff import HandoffStatus
from supportbot.domain.models import Article, Lang, Step, Suggestion


class Say(enum.StrEnum):
    """Every kind of message the engine sends; each has a text per language in the adapter."""

    GREETING = "greeting"
    HELP = "help"
    LANG_CHANGED = "lang_changed"
    ANSWER = "answer"  # an article: title, body, and steps inline when not step by step
    SUGGEST = "suggest"  # "Maybe one of these?"
    STEP = "step"  # one step of a guide
    ASK_SOLVED = "ask_solved"  # "Did it solve the problem?"
    SOLVED = "solved"  # glad it helped; conversation closed
    NO_MORE_ARTICLES = "no_more_articles"  # didn't help, nothing else fits: offer a person
    NOT_FOUND = "not_found"  # a new question mid-guide nothing answers: offer a person
    HANDOFF = "handoff"  # a person will answer (status says when)
    ALREADY_HANDLING = "already_handling"  # a repeated question
    WAITING_OFFER = "waiting_offer"  # while queued: an article that may solve it
    KEEP_WAITING = "keep_waiting"
    WAIT_NOTED = "wait_noted"  # a message while queued was passed on
    GUIDE_RESUME = "guide_resume"  # a question answered mid-guide: how to go on
    DESCRIBE_IN_WORDS = "describe_in_words"  # media without a caption
    EMPTY = "empty"  # a message with nothing to go on
    SMALL_TALK_HELLO = "small_talk_hello"  # "hi": ask what happened; nobody is bothered yet
    SMALL_TALK_THANKS = "small_talk_thanks"  # "thanks": you're welcome, anything else?
    CLARIFY = "clarify"  # a bare "yes" / "ok" / "next" with nothing to confirm: ask what happened


class Act(enum.StrEnum):
    """Buttons; the one-letter values are what callback data carries."""

    HELPED = "h"
    NOT_HELPED = "n"
    PERSON = "p"
    OPEN = "o"  # open one of the suggested articles
    NONE_OF_THESE = "x"
    GUIDE = "g"  # "Show me step by step"
    STEP_DONE = "d"
    STEP_FAILED = "f"
    RESUME = "r"  # continue the guide where it stopped
    SOLVED_YES = "y"
    SOLVED_NO = "q"
    WAIT_SOLVED = "s"  # "This solved it" while queued
    KEEP_WAITING = "w"


def article_key(article_id: str) -> str:
    """A short stable key for an article id, so callback data stays far below 64 bytes."""
    return hashlib.blake2b(article_id.encode(), digest_size=6).hexdigest()


@dataclass(frozen=True, slots=True)
class Action:
    """One button: what it does, for which article and step; `label` is an article title."""

    act: Act
    article_id: str = ""
    step: int = 0
    label: str = ""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to the user."""

    say: Say
    article: Article | None = None
    step: Step | None = None
    suggestions: tuple[Suggestion, ...] = ()
    status: HandoffStatus | None = None
    actions: tuple[Action, ...] = ()
    inline_steps: bool = False  # an ANSWER lists the steps itself (step-by-step is off)


@dataclass(frozen=True, slots=True)
class Reply:
    """The engine's answer to one input: messages in order.

    `conversation` is the number buttons must carry.
    """

    lang: Lang
    conversation: int
    messages: tuple[Outgoing, ...] = ()


@dataclass(frozen=True, slots=True)
class Press:
    """A button press as the engine sees it: decoded callback data."""

    act: Act
    conversation: int
    article_key: str = ""
    step: int = 0


@dataclass(frozen=True, slots=True)
class UserInfo:
    """The user as the channel describes them."""

    user_id: int
    first_name: str = ""
    username: str | None = None
    language_code: str | None = None
