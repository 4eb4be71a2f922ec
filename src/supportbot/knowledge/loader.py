"""Load a whole knowledge base directory: articles, canned replies, and every problem found."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Article, CannedReply, Problem, Severity
from supportbot.knowledge.parser import (
    canned_entries,
    find_links,
    parse_article,
    split_front_matter,
)

CANNED_FILES = ("canned_replies.yaml", "canned_replies.yml")
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


def _read(path: Path, rel: str) -> tuple[str | None, str, Problem | None]:
    """(text, sha256, problem): the text is None when the file cannot be used."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return None, "", Problem(rel, 1, Severity.ERROR, "unreadable", f"cannot read: {reason}")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return raw.decode("utf-8-sig"), digest, None
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        problem = Problem(
            rel,
            line,
            Severity.ERROR,
            "not-utf8",
            f"the file is not UTF-8 text (bad byte 0x{raw[exc.start]:02x}): save it as UTF-8 "
            "in your editor",
        )
        return None, digest, problem


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

    def add_article_file(self, path: Path, rel: str) -> None:
        text, digest, problem = _read(path, rel)
        self.fingerprints[rel] = digest
        article: Article | None = None
        if problem is not None:
            self.problems.append(problem)
        elif text is not None:
            article, found = parse_article(text, rel)
            self.problems.extend(found)
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
        text, digest, problem = _read(path, rel)
        self.fingerprints[rel] = digest
        if problem is not None or text is None:
            self.problems.extend([problem] if problem else [])
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
        )


def load_knowledge_base(root: Path, previous: KnowledgeBase | None = None) -> KnowledgeBase:
    """Read every article and canned replies file under `root`.

    Blocking file I/O: call it through `asyncio.to_thread` from async code. A file that no
    longer parses keeps serving its last good version from `previous`, with a warning.

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
    builder = _Builder(root, previous)
    for path in sorted(root.rglob("*")):
        rel = PurePosixPath(path.relative_to(root).as_posix())
        if is_skipped(rel) or not path.is_file():
            continue
        if path.name.lower() in CANNED_FILES:
            builder.add_canned_file(path, rel.as_posix())
        elif path.suffix.lower() == ".md":
            builder.add_article_file(path, rel.as_posix())
    builder.resolve_links()
    return builder.build()


def diff(old: KnowledgeBase | None, new: KnowledgeBase) -> KbDiff:
    """Articles added, changed or removed between two loads (for the reload log line)."""
    before = dict(old.articles) if old is not None else {}
    after = dict(new.articles)
    return KbDiff(
        added=frozenset(after.keys() - before.keys()),
        changed=frozenset(k for k in after.keys() & before.keys() if after[k] != before[k]),
        removed=frozenset(before.keys() - after.keys()),
    )
