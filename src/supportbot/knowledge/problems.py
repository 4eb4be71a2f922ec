"""Problems found in knowledge base files, and which of them keep a file off the bot."""

from __future__ import annotations

from supportbot.domain.models import Problem, Severity

# Problems after which a file cannot be shown at all: it is skipped (a live bot keeps its
# last good version). Every other problem leaves the article served, at worst without
# its step-by-step guide or with a field ignored.
SKIPPING_CODES = frozenset(
    {
        "no-front-matter",
        "unterminated-front-matter",
        "invalid-yaml",
        "yaml-too-complex",
        "bad-front-matter",
        "missing-title",
        "empty-body",
        "duplicate-id",
        "unreadable",
        "not-utf8",
        "binary",
        "too-large",
        "symlink-outside",
        "not-a-file",
    }
)
# Problems after which an article is served as a plain article: its steps cannot be used.
WITHOUT_STEPS_CODES = frozenset({"steps-not-numbered"})


def problem(path: str, line: int, code: str, message: str, *, warning: bool = False) -> Problem:
    """A problem at a 1-based line of a file; an error unless `warning`."""
    severity = Severity.WARNING if warning else Severity.ERROR
    return Problem(path=path, line=line, severity=severity, code=code, message=message)


def skips(problems: list[Problem]) -> bool:
    """True when one of `problems` keeps the file off the bot."""
    return any(p.code in SKIPPING_CODES and p.severity is Severity.ERROR for p in problems)
