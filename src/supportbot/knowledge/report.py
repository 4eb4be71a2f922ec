"""What a load of the knowledge base serves and skips: for `kb check`, the log and `/stats`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A file that is not served (a live bot may still serve its last good version)."""

    path: str
    line: int
    code: str
    reason: str


def _count(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@dataclass(frozen=True, slots=True)
class KnowledgeReport:
    """Counts and files of one load.

    `served` counts every article users get, including the `without_steps` ones (files whose
    steps section could not be used: served as plain articles) and the `kept` ones (files
    now broken whose last good version is still served). `skipped` lists every file not
    served from its current text.
    """

    served: int = 0
    without_steps: tuple[str, ...] = ()
    skipped: tuple[SkippedFile, ...] = ()
    kept: tuple[str, ...] = ()
    errors: int = 0
    warnings: int = 0

    def summary(self) -> str:
        """'N articles served, M served without steps, K skipped'."""
        return (
            f"{_count(self.served, 'article', 'articles')} served, "
            f"{len(self.without_steps)} served without steps, {len(self.skipped)} skipped"
        )

    @property
    def ok(self) -> bool:
        """True when nothing is skipped and nothing is broken (no errors)."""
        return not self.skipped and not self.errors
