"""Frozen domain values: articles, chunks, suggestions and decisions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# Longer article bodies are still served, but only this much of them is searched: a manual
# pasted in as one article would otherwise match every message a little.
MAX_BODY_CHARS = 20_000


class Lang(enum.StrEnum):
    """The languages supportbot speaks."""

    RU = "ru"
    EN = "en"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a step-by-step guide: sent to the user as one message."""

    number: int
    text: str


@dataclass(frozen=True, slots=True)
class Article:
    """A help-center article parsed from one markdown file.

    `source` is the file path relative to the knowledge base root; `body` is the markdown
    without front matter and without the steps section; `steps` is empty for plain articles.
    A guide's `guide_intro` is the text between the steps heading and the first step (sent
    before step 1); its `closing_note` is the text after the last step (sent after it).
    """

    id: str
    title: str
    body: str
    category: str = ""
    tags: tuple[str, ...] = ()
    lang: Lang = Lang.EN
    questions: tuple[str, ...] = ()
    steps: tuple[Step, ...] = ()
    source: str = ""
    links: tuple[str, ...] = ()
    guide_intro: str = ""
    closing_note: str = ""

    @property
    def has_steps(self) -> bool:
        """True when the article is a step-by-step guide."""
        return bool(self.steps)


class ChunkKind(enum.StrEnum):
    """Which part of an article a chunk comes from."""

    TITLE = "title"
    QUESTION = "question"
    BODY = "body"


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of an article that is indexed on its own; every hit maps back to `article_id`."""

    article_id: str
    kind: ChunkKind
    text: str
    lang: Lang


@dataclass(frozen=True, slots=True)
class CannedReply:
    """A ready-made operator reply; `text` may hold placeholders such as {name}."""

    id: str
    title: str
    text: str
    lang: Lang
    tags: tuple[str, ...] = ()


class Severity(enum.StrEnum):
    """How bad a knowledge base problem is: errors fail `kb check`, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """Something wrong in the knowledge base, precise enough to fix from the message alone."""

    path: str
    line: int
    severity: Severity
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity.value}: {self.message} [{self.code}]"


class DecisionKind(enum.StrEnum):
    """What the suggester recommends doing with a message."""

    ANSWER = "answer"
    SUGGEST = "suggest"
    HANDOFF = "handoff"


@dataclass(frozen=True, slots=True)
class Suggestion:
    """One candidate article with its fused score, its calibrated confidence and why."""

    article_id: str
    title: str
    score: float
    confidence: float
    signals: dict[str, float] = field(default_factory=dict)
    matched: str = ""

    @property
    def why(self) -> str:
        """A short human-readable reason: the strongest signals and the text they matched."""
        top = sorted(self.signals.items(), key=lambda kv: kv[1], reverse=True)[:3]
        parts = ", ".join(f"{name}={value:.2f}" for name, value in top)
        return f"{parts}; matched: {self.matched!r}" if self.matched else parts


@dataclass(frozen=True, slots=True)
class Decision:
    """The suggester's verdict on one message."""

    kind: DecisionKind
    confidence: float
    suggestions: tuple[Suggestion, ...]
    query_lang: Lang
    elapsed_ms: float = 0.0

    @property
    def best(self) -> Suggestion | None:
        """The top suggestion, if there is any."""
        return self.suggestions[0] if self.suggestions else None
