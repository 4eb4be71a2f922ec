"""Load a whole knowledge base directory: articles, canned replies, and every problem found."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Article, CannedReply, Problem, Severity
from supportbot.knowledge.canned import canned_entries
from supportbot.knowledge.files import MAX_FILE_BYTES, FileText, read_text, walk
from supportbot.knowledge.frontmatter import split_front_matter
from supportbot.knowledge.markup import find_links
from supportbot.knowledge.parser import parse_article
from supportbot.knowledge.problems import SKIPPING_CODES, WITHOUT_STEPS_CODES
from supportbot.knowledge.report import KnowledgeReport, SkippedFile

logger = logging.getLogger(__name__)

CANNED_FILES = ("canned_replies.yaml", "canned_replies.yml")
# One file holds every canned reply: hundreds of them may pass an article's limit.
MAX_CANNED_BYTES = 1024 * 1024
_ID_LINE = re.compile(r"^id\s*:", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """A loaded knowledge base: what is served plus what is wrong with the files.

    `articles` maps id -> article in id order; `fingerprints` maps each file's path
    (relative, posix) to the sha256 of its bytes; `canned_by_file` lets a reload keep the
    replies of a canned replies file that no longer parses.
    """

    root: Path
    articles: Mapping[str, Article]
    canned: tuple[CannedReply, ...] = ()
    problems: tuple[Problem, ...] = ()
    fingerprints: Mapping[str, str] = field(default_factory=dict)
    canned_by_file: Mapping[str, tuple[CannedReply, ...]] = field(default_factory=dict)
    report: KnowledgeReport = field(default_factory=KnowledgeReport)

    def errors(self) -> tuple[Problem, ...]:
        """Problems that make `kb check` fail."""
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    def warnings(self) -> tuple[Problem, ...]:
        """Problems worth fixing that do not fail `kb check`."""
        return tuple(p for p in self.problems if p.severity is Severity.WARNING)


@dataclass(frozen=True, slots=True)
class KbDiff:
    """What a reload changed, by article id."""

    added: frozenset[str]
    changed: frozenset[str]
    removed: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def is_skipped(rel: PurePosixPath) -> bool:
    """Files the knowledge base ignores: hidden or `_`-prefixed (drafts), and the root README."""
    if any(part.startswith((".", "_")) for part in rel.parts):
        return True
    return len(rel.parts) == 1 and rel.name.lower() == "readme.md"


def _id_line(text: str | None, rel: str) -> int:
    """The line of the `id:` key in the front matter, where a duplicate id is best reported."""
    sections, _ = split_front_matter(text or "", rel)
    match = _ID_LINE.search(sections.front) if sections is not None else None
    if sections is None or match is None:
        return 1
    return sections.front_start + sections.front.count("\n", 0, match.start())


@dataclass(slots=True)
class _Builder:
    """Mutable state of one load; frozen into a `KnowledgeBase` at the end."""

    root: Path
    previous: KnowledgeBase | None
    articles: dict[str, Article] = field(default_factory=dict)
    first_file: dict[str, str] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)  # id -> text of freshly parsed files
    canned_by_file: dict[str, tuple[CannedReply, ...]] = field(default_factory=dict)
    canned_first: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    fingerprints: dict[str, str] = field(default_factory=dict)
    max_file_bytes: int = MAX_FILE_BYTES
    without_steps: set[str] = field(default_factory=set)  # files served as plain articles
    kept: dict[str, str] = field(default_factory=dict)  # file -> id kept at its last good

    def add_article_file(self, path: Path, rel: str, refused: Problem | None = None) -> None:
        """Parse one article file; `refused` says why it must not even be read."""
        read = (
            FileText(None, "", refused) if refused else read_text(path, rel, self.max_file_bytes)
        )
        text = read.text
        self.fingerprints[rel] = read.fingerprint
        article: Article | None = None
        if read.problem is not None:
            self.problems.append(read.problem)
        elif text is not None:
            article, found = parse_article(text, rel)
            self.problems.extend(found)
            if article is not None and any(p.code in WITHOUT_STEPS_CODES for p in found):
                self.without_steps.add(rel)
        fresh = article is not None
        if article is None:
            article = self._last_good_article(rel)
            if article is None:
                return
        if article.id in self.articles:
            holder = self.first_file[article.id]
            if self._served_from(article.id) != rel:
                self._duplicate(article.id, rel, text, holder)
                return
            # This file served the id until now: a newcomer taking it over must not knock a
            # live article off the bot. The newcomer is the one reported and not served.
            self._duplicate(article.id, holder, self.texts.get(article.id), rel)
            self.texts.pop(article.id, None)
        self.articles[article.id] = article
        self.first_file[article.id] = rel
        if fresh and text is not None:
            self.texts[article.id] = text

    def _served_from(self, article_id: str) -> str | None:
        """The file the id was served from by the previous load, if any."""
        if self.previous is None:
            return None
        served = self.previous.articles.get(article_id)
        return served.source if served is not None else None

    def _duplicate(self, article_id: str, rel: str, text: str | None, kept: str) -> None:
        self.problems.append(
            Problem(
                rel,
                _id_line(text, rel),
                Severity.ERROR,
                "duplicate-id",
                f"id {article_id!r} is already used by {kept}: give one of them a different "
                '"id:" (or rename the file); this one is not served',
            )
        )

    def _last_good_article(self, rel: str) -> Article | None:
        if self.previous is None:
            return None
        last_good = next((a for a in self.previous.articles.values() if a.source == rel), None)
        if last_good is not None:
            self.kept[rel] = last_good.id
            self.problems.append(
                Problem(
                    rel,
                    1,
                    Severity.WARNING,
                    "kept-last-good",
                    f"kept the last good version of {last_good.id!r}: users get it until the "
                    "errors in this file are fixed",
                )
            )
        return last_good

    def add_canned_file(self, path: Path, rel: str) -> None:
        read = read_text(path, rel, max(self.max_file_bytes, MAX_CANNED_BYTES))
        text = read.text
        self.fingerprints[rel] = read.fingerprint
        if read.problem is not None or text is None:
            self.problems.extend([read.problem] if read.problem else [])
            self._keep_last_good_canned(rel)
            return
        entries, found = canned_entries(text, rel)
        self.problems.extend(found)
        if not entries and any(p.severity is Severity.ERROR for p in found):
            self._keep_last_good_canned(rel)
            return
        kept: list[CannedReply] = []
        for entry in entries:
            first = self.canned_first.get(entry.reply.id)
            if first is not None:
                self.problems.append(
                    Problem(
                        rel,
                        entry.line,
                        Severity.ERROR,
                        "duplicate-id",
                        f"canned reply id {entry.reply.id!r} is already used in {first}: "
                        "give one of them a different id",
                    )
                )
                continue
            self.canned_first[entry.reply.id] = rel
            kept.append(entry.reply)
        self.canned_by_file[rel] = tuple(kept)

    def _keep_last_good_canned(self, rel: str) -> None:
        if self.previous is None or rel not in self.previous.canned_by_file:
            return
        self.canned_by_file[rel] = self.previous.canned_by_file[rel]
        for reply in self.canned_by_file[rel]:
            self.canned_first.setdefault(reply.id, rel)
        self.problems.append(
            Problem(
                rel,
                1,
                Severity.WARNING,
                "kept-last-good",
                "kept the last good version of these canned replies: operators get them "
                "until the errors in this file are fixed",
            )
        )

    def resolve_links(self) -> None:
        """Check every article link and store the ids the links resolve to."""
        by_path = {
            PurePosixPath(a.source).with_suffix("").as_posix(): a.id
            for a in self.articles.values()
        }
        for article_id, text in self.texts.items():
            article = self.articles[article_id]
            resolved: list[str] = []
            for link in find_links(text, article.source):
                target = next(
                    (
                        c if c in self.articles else by_path[c]
                        for c in link.candidates
                        if c in self.articles or c in by_path
                    ),
                    None,
                )
                if target is not None:
                    resolved.append(target)
                    continue
                self.problems.append(
                    Problem(
                        article.source,
                        link.line,
                        Severity.ERROR,
                        "broken-link",
                        f"link to {link.target!r}: no article has that id or path (looked for "
                        f"{' and '.join(link.candidates) or 'nothing'}); write the target "
                        "article's id, e.g. (en/account/reset-password), or a path relative "
                        "to this file, e.g. (../account/reset-password.md)",
                    )
                )
            self.articles[article_id] = dataclasses.replace(
                article, links=tuple(dict.fromkeys(resolved))
            )

    def report(self) -> KnowledgeReport:
        """What is served and what is not, by file."""
        served = {a.source for a in self.articles.values()}
        skipped: dict[str, SkippedFile] = {}
        for found in self.problems:
            if found.code in SKIPPING_CODES and found.severity is Severity.ERROR:
                if found.path in served and found.path not in self.kept:
                    continue  # the other file of a duplicate id: that one is reported
                skipped.setdefault(
                    found.path, SkippedFile(found.path, found.line, found.code, found.message)
                )
        return KnowledgeReport(
            served=len(self.articles),
            without_steps=tuple(sorted(self.without_steps & served)),
            skipped=tuple(sorted(skipped.values(), key=lambda s: s.path)),
            kept=tuple(sorted(self.kept)),
            errors=sum(p.severity is Severity.ERROR for p in self.problems),
            warnings=sum(p.severity is Severity.WARNING for p in self.problems),
        )

    def build(self) -> KnowledgeBase:
        return KnowledgeBase(
            root=self.root,
            articles=dict(sorted(self.articles.items())),
            canned=tuple(r for replies in self.canned_by_file.values() for r in replies),
            problems=tuple(
                sorted(self.problems, key=lambda p: (p.path, p.line, p.severity, p.code))
            ),
            fingerprints=dict(self.fingerprints),
            canned_by_file=dict(self.canned_by_file),
            report=self.report(),
        )


def load_knowledge_base(
    root: Path,
    previous: KnowledgeBase | None = None,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> KnowledgeBase:
    """Read every article and canned replies file under `root`.

    Blocking file I/O: call it through `asyncio.to_thread` from async code. A file that no
    longer parses keeps serving its last good version from `previous`, with a warning.
    Files over `max_file_bytes` and links leading out of `root` are never read.

    Raises:
        KnowledgeBaseError: `root` does not exist or is not a directory.
    """
    if not root.exists():
        raise KnowledgeBaseError(
            f"Knowledge base directory not found: {root} (set knowledge_base.dir in the "
            "config or pass the directory on the command line)"
        )
    if not root.is_dir():
        raise KnowledgeBaseError(
            f"Knowledge base path {root} is a file, not a directory: point it at the folder "
            "that holds the articles"
        )
    builder = _Builder(root, previous, max_file_bytes=max_file_bytes)
    for found in walk(root):
        rel = found.rel
        name = rel.name.lower()
        wanted = name in CANNED_FILES or name.endswith(".md")
        if is_skipped(rel) or not (wanted or found.problem is not None):
            continue
        if found.problem is not None and name in CANNED_FILES:
            builder.problems.append(found.problem)
        elif found.problem is not None:
            builder.add_article_file(found.path, rel.as_posix(), found.problem)
        elif name in CANNED_FILES:
            builder.add_canned_file(found.path, rel.as_posix())
        else:
            builder.add_article_file(found.path, rel.as_posix())
    builder.resolve_links()
    kb = builder.build()
    for skipped in kb.report.skipped:
        logger.warning("Knowledge base: %s is not served: %s", skipped.path, skipped.reason)
    logger.debug("Knowledge base %s: %s", root, kb.report.summary())
    return kb


def diff(old: KnowledgeBase | None, new: KnowledgeBase) -> KbDiff:
    """Articles added, changed or removed between two loads (for the reload log line)."""
    before = dict(old.articles) if old is not None else {}
    after = dict(new.articles)
    return KbDiff(
        added=frozenset(after.keys() - before.keys()),
        changed=frozenset(k for k in after.keys() & before.keys() if after[k] != before[k]),
        removed=frozenset(before.keys() - after.keys()),
    )
