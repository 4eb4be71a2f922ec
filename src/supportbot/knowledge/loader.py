"""Load a whole knowledge base directory: articles, canned replies, and every problem found."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from supportbot.domain.errors import KnowledgeBaseError
from supportbot.domain.models import Article, CannedReply, Problem, Severity
from supportbot.knowledge.parser import (
    link_targets,
    parse_article,
    parse_canned_replies,
    resolve_link,
    split_front_matter,
)

CANNED_FILES = ("canned_replies.yaml", "canned_replies.yml")


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    """A loaded knowledge base: what is served plus what is wrong with the files."""

    root: Path
    articles: Mapping[str, Article]
    canned: tuple[CannedReply, ...] = ()
    problems: tuple[Problem, ...] = ()
    fingerprints: Mapping[str, str] = field(default_factory=dict)

    def errors(self) -> list[Problem]:
        """Problems that make `kb check` fail."""
        return [p for p in self.problems if p.severity is Severity.ERROR]


@dataclass(frozen=True, slots=True)
class KbDiff:
    """What a reload changed, by article id."""

    added: frozenset[str]
    changed: frozenset[str]
    removed: frozenset[str]


def _skip(rel: Path) -> bool:
    if any(part.startswith((".", "_")) for part in rel.parts):
        return True
    return len(rel.parts) == 1 and rel.name.lower() == "readme.md"


def _read(path: Path, rel: str) -> tuple[str | None, str, Problem | None]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, "", Problem(rel, 1, Severity.ERROR, "unreadable", f"cannot read: {exc}")
    digest = hashlib.sha256(raw).hexdigest()
    try:
        return raw.decode("utf-8-sig"), digest, None
    except UnicodeDecodeError as exc:
        return (
            None,
            digest,
            Problem(
                rel,
                1,
                Severity.ERROR,
                "not-utf8",
                f"the file is not UTF-8 text (byte {exc.start}): save it as UTF-8",
            ),
        )


def load_knowledge_base(root: Path, previous: KnowledgeBase | None = None) -> KnowledgeBase:
    """Read every article under `root` (blocking: run it in a thread from async code).

    A file that no longer parses keeps serving its last good version from `previous`.

    Raises:
        KnowledgeBaseError: `root` does not exist or is not a directory.
    """
    if not root.is_dir():
        raise KnowledgeBaseError(
            f"Knowledge base directory not found: {root} (set knowledge_base.dir or pass a DIR)"
        )
    previous_by_source = (
        {a.source: a for a in previous.articles.values()} if previous is not None else {}
    )
    problems: list[Problem] = []
    articles: dict[str, Article] = {}
    first_file: dict[str, str] = {}
    bodies: dict[str, tuple[str, int, str]] = {}
    canned: list[CannedReply] = []
    fingerprints: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel_path = path.relative_to(root)
        if _skip(rel_path):
            continue
        rel = rel_path.as_posix()
        if path.name.lower() in CANNED_FILES:
            text, digest, problem = _read(path, rel)
            fingerprints[rel] = digest
            if problem or text is None:
                problems.append(problem) if problem else None
                continue
            replies, canned_problems = parse_canned_replies(text, rel)
            canned.extend(replies)
            problems.extend(canned_problems)
            continue
        if path.suffix.lower() != ".md":
            continue
        text, digest, problem = _read(path, rel)
        fingerprints[rel] = digest
        article: Article | None = None
        if problem is not None:
            problems.append(problem)
        elif text is not None:
            article, article_problems = parse_article(text, rel)
            problems.extend(article_problems)
        if article is None:
            last_good = previous_by_source.get(rel)
            if last_good is not None:
                problems.append(
                    Problem(
                        rel,
                        1,
                        Severity.WARNING,
                        "kept-last-good",
                        "this file has errors: the last good version is still served",
                    )
                )
                article = last_good
            else:
                continue
        if article.id in articles:
            problems.append(
                Problem(
                    rel,
                    1,
                    Severity.ERROR,
                    "duplicate-id",
                    f"id {article.id!r} is already used by {first_file[article.id]}: "
                    "give one of them a different id",
                )
            )
            continue
        articles[article.id] = article
        first_file[article.id] = rel
        if text is not None:
            _, body, body_start, _ = split_front_matter(text, rel)
            bodies[article.id] = (rel, body_start, body)
    problems.extend(_check_links(articles, bodies))
    ids = {c.id for c in canned}
    if len(ids) != len(canned):
        problems.append(
            Problem(
                "canned_replies.yaml",
                1,
                Severity.ERROR,
                "duplicate-id",
                "two canned replies share an id",
            )
        )
    return KnowledgeBase(
        root=root,
        articles=dict(sorted(articles.items())),
        canned=tuple(canned),
        problems=tuple(sorted(problems, key=lambda p: (p.path, p.line, p.code))),
        fingerprints=fingerprints,
    )


def _check_links(
    articles: Mapping[str, Article], bodies: Mapping[str, tuple[str, int, str]]
) -> list[Problem]:
    problems = []
    for rel, body_start, body in bodies.values():
        for offset, target in link_targets(body):
            candidates = resolve_link(target, rel)
            if not any(c in articles for c in candidates):
                problems.append(
                    Problem(
                        rel,
                        body_start + offset,
                        Severity.ERROR,
                        "broken-link",
                        f"link to {target!r}: no article has that id (looked for "
                        f"{', '.join(candidates)}); fix the link or the article's id",
                    )
                )
    return problems


def diff(old: KnowledgeBase | None, new: KnowledgeBase) -> KbDiff:
    """Articles added, changed or removed between two loads."""
    before = dict(old.articles) if old is not None else {}
    after = dict(new.articles)
    return KbDiff(
        added=frozenset(after.keys() - before.keys()),
        changed=frozenset(k for k in after.keys() & before.keys() if after[k] != before[k]),
        removed=frozenset(before.keys() - after.keys()),
    )
