"""Parse one markdown article (YAML front matter + body + optional steps) into an `Article`.

Everything here is pure: text in, domain values and `Problem`s out. Every problem names
the file and the 1-based line in the file, and says what is wrong and what is expected,
so a content editor can fix it from the message alone. Only a file that cannot be shown
at all (no readable front matter, no title, no text) yields no article; any other problem
leaves the article served, with the faulty part ignored or sent as plain text.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import yaml

from supportbot.domain.models import Article, Lang, Problem
from supportbot.domain.text import detect_lang
from supportbot.knowledge.frontmatter import (
    LANG_CODES,
    YamlTooComplexError,
    key_lines,
    kind,
    load_yaml,
    scalar_text,
    short,
    split_front_matter,
    string_list,
    too_complex_problem,
    yaml_problem,
)
from supportbot.knowledge.markup import links_in_body
from supportbot.knowledge.problems import problem, skips
from supportbot.knowledge.steps import parse_guide

ALLOWED_KEYS = ("id", "title", "category", "tags", "lang", "questions")
# About three Telegram messages: an answer longer than that is a manual, not a chat reply.
# The rest is cut off (with a warning), so no question ever sends dozens of messages.
MAX_SERVED_CHARS = 12_000
_BAD_ID = re.compile(r"\s|\.md$|^/|/$|//|(^|/)\.\.?(/|$)")


def _defaults_from_path(rel_path: str) -> tuple[str, str, Lang | None]:
    """Default id, category and language from where the file lives."""
    posix = PurePosixPath(rel_path)
    article_id = posix.with_suffix("").as_posix()
    folders = list(posix.parts[:-1])
    lang = None
    if folders and folders[0].lower() in LANG_CODES:
        lang = LANG_CODES[folders[0].lower()]
        folders = folders[1:]
    return article_id, folders[0] if folders else "", lang


def _check_id(value: Any, default: str, path: str, line: int) -> tuple[str, list[Problem]]:
    if value is None:
        return default, []
    text = scalar_text(value)
    if not text or _BAD_ID.search(text):
        return default, [
            problem(
                path,
                line,
                "bad-id",
                f"id {short(value)} is not usable, so the file path {default!r} is used: "
                f'write a path-like id without spaces, ".md" or leading/trailing "/" (e.g. '
                f"id: {default}), or remove the line",
            )
        ]
    return text, []


def cut_to_limit(body: str, limit: int = MAX_SERVED_CHARS) -> str:
    """The start of an over-long body, cut at the last paragraph (or line, or word) end."""
    if len(body) <= limit:
        return body
    head = body[:limit]
    for seam in ("\n\n", "\n", ". ", " "):
        at = head.rfind(seam)
        if at > limit // 2:
            return head[:at].rstrip() + "\n\n…"
    return head + "…"


def _front_problems(lines_by_key: dict[str, list[int]], path: str) -> list[Problem]:
    problems: list[Problem] = []
    for key, lines in lines_by_key.items():
        if key not in ALLOWED_KEYS:
            problems.append(
                problem(
                    path,
                    lines[0],
                    "unknown-key",
                    f"unknown front-matter key {key!r} is ignored (a typo?); allowed keys: "
                    f"{', '.join(ALLOWED_KEYS)}",
                    warning=True,
                )
            )
        for repeat in lines[1:]:
            problems.append(
                problem(
                    path,
                    repeat,
                    "duplicate-key",
                    f"{key!r} is set twice (first on line {lines[0]}); only this last value "
                    "is used: remove one of them",
                    warning=True,
                )
            )
    return problems


def _read_meta(
    text: str, rel_path: str
) -> tuple[dict[str, Any] | None, dict[str, list[int]], int, int, str, list[Problem]]:
    """(front matter, key lines, front start, body start, body, problems); None: unusable."""
    sections, problems = split_front_matter(text, rel_path)
    if sections is None:
        return None, {}, 1, 1, "", problems
    try:
        meta, node = load_yaml(sections.front)
    except yaml.YAMLError as exc:
        found = yaml_problem(exc, rel_path, sections.front_start, "the front matter")
        return None, {}, 1, 1, "", [found]
    except YamlTooComplexError:
        found = too_complex_problem(rel_path, sections.front_start, "the front matter")
        return None, {}, 1, 1, "", [found]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        found = problem(
            rel_path,
            sections.front_start,
            "bad-front-matter",
            f"the front matter must be key: value lines (title: ..., tags: [...]), "
            f"found {kind(meta)}",
        )
        return None, {}, 1, 1, "", [found]
    lines = key_lines(node, sections.front_start)
    return meta, lines, sections.front_start, sections.body_start, sections.body, problems


def _language(
    meta: dict[str, Any],
    text: str,
    has_text: bool,
    folder_lang: Lang | None,
    line_of: dict[str, int],
    rel_path: str,
) -> tuple[Lang, list[Problem]]:
    problems: list[Problem] = []
    detected = detect_lang(text)
    lang = folder_lang or detected
    declared = meta.get("lang")
    if declared is not None:
        code = str(scalar_text(declared) or "").lower()
        if code not in LANG_CODES:
            problems.append(
                problem(
                    rel_path,
                    line_of["lang"],
                    "bad-lang",
                    f"lang must be ru or en, not {short(declared)}: write lang: ru or "
                    f"lang: en, or remove the line (until then it is {lang.value}, "
                    "from the text)",
                )
            )
        else:
            lang = LANG_CODES[code]
            if folder_lang is not None and lang is not folder_lang:
                problems.append(
                    problem(
                        rel_path,
                        line_of["lang"],
                        "lang-folder-mismatch",
                        f"lang is {lang.value} but the file is in the {folder_lang.value}/ "
                        "folder: move the file or fix the lang",
                        warning=True,
                    )
                )
    stated = declared is not None or folder_lang is not None
    if stated and has_text and lang is not detected:
        source = "lang" if declared is not None else f"the {lang.value}/ folder"
        problems.append(
            problem(
                rel_path,
                line_of["lang"] if declared is not None else 1,
                "lang-mismatch",
                f"{source} says {lang.value} but the text looks {detected.value}: "
                "fix the lang (or move the file) or translate the text",
                warning=True,
            )
        )
    return lang, problems


def parse_article(text: str, rel_path: str) -> tuple[Article | None, list[Problem]]:
    """Parse one article file; `rel_path` is its posix path relative to the knowledge base.

    Returns the article (None when it cannot be shown at all) and every problem found.
    """
    meta, lines_by_key, front_start, body_start, body_text, problems = _read_meta(text, rel_path)
    if meta is None:
        return None, problems
    problems += _front_problems(lines_by_key, rel_path)
    line_of = {key: lines_by_key.get(key, [front_start])[0] for key in ALLOWED_KEYS}

    title = scalar_text(meta.get("title"))
    if not title:
        problems.append(
            problem(
                rel_path,
                line_of["title"] if "title" in meta else 1,
                "missing-title",
                'title is missing: add "title: ..." to the front matter'
                if "title" not in meta
                else "title is empty or not text: write the article's title after "
                '"title: " (in quotes if it contains ": ")',
            )
        )
    default_id, default_category, folder_lang = _defaults_from_path(rel_path)
    article_id, id_problems = _check_id(meta.get("id"), default_id, rel_path, line_of["id"])
    problems += id_problems
    category = default_category
    if meta.get("category") is not None:
        written = scalar_text(meta["category"])
        if written is None:
            problems.append(
                problem(
                    rel_path,
                    line_of["category"],
                    "bad-category",
                    f"category must be one word or phrase, found {kind(meta['category'])}: "
                    f"write e.g. category: {default_category or 'payments'}",
                )
            )
        else:
            category = written
    tags, tag_problems = string_list(
        meta.get("tags"), "tags", rel_path, line_of["tags"], "tags: [card, payment]"
    )
    questions, question_problems = string_list(
        meta.get("questions"),
        "questions",
        rel_path,
        line_of["questions"],
        'one phrasing per line under "questions:", each starting with "  - "',
    )
    problems += tag_problems + question_problems

    served = cut_to_limit(body_text)
    if served is not body_text:
        problems.append(
            problem(
                rel_path,
                body_start,
                "too-long",
                f"the article is {len(body_text):,} characters long: a chat answer should be "
                f"short, so only the first {MAX_SERVED_CHARS:,} are sent to users (about three "
                "messages) and searched; split it into articles of one question each",
                warning=True,
            )
        )
    guide, step_problems = parse_guide(served.splitlines(), body_start, rel_path)
    problems += step_problems
    body = "\n".join(guide.body_lines).strip()
    if not body and not guide.steps:
        problems.append(
            problem(
                rel_path,
                body_start,
                "empty-body",
                "the article has no text after the front matter: write the answer users "
                "should read below the closing ---",
            )
        )
    shown = " ".join(
        [title or "", body, guide.intro, *(s.text for s in guide.steps), guide.closing]
    )
    has_text = bool(body or guide.steps)
    lang, lang_problems = _language(meta, shown, has_text, folder_lang, line_of, rel_path)
    problems += lang_problems
    if skips(problems) or not title:
        return None, problems
    links = tuple(
        dict.fromkeys(link.candidates[0] for link in links_in_body(served, body_start, rel_path))
    )
    article = Article(
        id=article_id,
        title=title,
        body=body,
        category=category,
        tags=tags,
        lang=lang,
        questions=questions,
        steps=guide.steps,
        source=rel_path,
        links=links,
        guide_intro=guide.intro,
        closing_note=guide.closing,
    )
    return article, problems
