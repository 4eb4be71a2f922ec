"""Parse one markdown article (YAML front matter + body + optional steps) into an `Article`."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any

import yaml

from supportbot.domain.models import Article, CannedReply, Lang, Problem, Severity, Step
from supportbot.domain.text import detect_lang

ALLOWED_KEYS = ("id", "title", "category", "tags", "lang", "questions")
_STEPS_HEADING = re.compile(r"^(#{1,6})\s*(steps|шаги)\s*:?\s*$", re.IGNORECASE)
_HEADING = re.compile(r"^(#{1,6})\s+\S")
_NUMBERED = re.compile(r"^(\d+)[.)]\s+(.*)$")
_BULLET = re.compile(r"^[-*+]\s+")
_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_LANG_FOLDERS = {"ru": Lang.RU, "en": Lang.EN}


def _problem(path: str, line: int, code: str, message: str, *, warning: bool = False) -> Problem:
    severity = Severity.WARNING if warning else Severity.ERROR
    return Problem(path=path, line=line, severity=severity, code=code, message=message)


def split_front_matter(text: str, path: str) -> tuple[str, str, int, list[Problem]]:
    """Return (front matter, body, line number where the body starts, problems)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return (
            "",
            text,
            1,
            [
                _problem(
                    path,
                    1,
                    "no-front-matter",
                    'the file must start with front matter: a line "---", then '
                    '"title: ...", then a closing "---"',
                )
            ],
        )
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() in {"---", "..."}:
            return "\n".join(lines[1 : number - 1]), "\n".join(lines[number:]), number + 1, []
    return (
        "",
        text,
        1,
        [
            _problem(
                path,
                1,
                "unterminated-front-matter",
                'the front matter opened on line 1 is never closed: add a line "---" after it',
            )
        ],
    )


def _defaults_from_path(rel_path: str) -> tuple[str, str, Lang | None]:
    """Default id, category and language from where the file lives."""
    posix = PurePosixPath(rel_path)
    article_id = str(posix.with_suffix(""))
    folders = list(posix.parts[:-1])
    lang = None
    if folders and folders[0].lower() in _LANG_FOLDERS:
        lang = _LANG_FOLDERS[folders[0].lower()]
        folders = folders[1:]
    return article_id, folders[0] if folders else "", lang


def _string_list(
    value: Any, key: str, path: str, line: int
) -> tuple[tuple[str, ...], list[Problem]]:
    if value is None:
        return (), []
    if isinstance(value, str):
        value = [value] if key == "questions" else [v.strip() for v in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        return (), [
            _problem(
                path,
                line,
                f"bad-{key}",
                f"{key} must be a list of strings, e.g. {key}: [first, second]",
            )
        ]
    return tuple(str(v).strip() for v in value if str(v).strip()), []


def _key_lines(front: str, first_line: int) -> dict[str, int]:
    lines: dict[str, int] = {}
    for offset, line in enumerate(front.splitlines()):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", line)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = first_line + offset
    return lines


def _parse_steps(
    body_lines: list[str], body_start: int, path: str
) -> tuple[list[str], tuple[Step, ...], list[Problem]]:
    """Cut the steps section out of the body and parse its numbered list."""
    found = next(
        ((i, m) for i, line in enumerate(body_lines) if (m := _STEPS_HEADING.match(line.strip()))),
        None,
    )
    if found is None:
        return body_lines, (), []
    index, heading = found
    level = len(heading.group(1))
    end = len(body_lines)
    for j in range(index + 1, len(body_lines)):
        other = _HEADING.match(body_lines[j].strip())
        if other and len(other.group(1)) <= level:
            end = j
            break
    section = body_lines[index + 1 : end]
    heading_line = body_start + index
    problems: list[Problem] = []
    steps: list[tuple[int, list[str]]] = []
    stray: list[tuple[int, str]] = []
    for offset, raw in enumerate(section):
        stripped = raw.strip()
        if not stripped:
            continue
        numbered = _NUMBERED.match(stripped) if not raw.startswith((" ", "\t")) else None
        if numbered:
            steps.append((int(numbered.group(1)), [numbered.group(2).strip()]))
        elif steps and raw.startswith((" ", "\t")):
            steps[-1][1].append(stripped)  # continuation of the previous step
        else:
            stray.append((heading_line + 1 + offset, stripped))
    heading_text = body_lines[index].strip()
    if not steps:
        what = (
            "a bullet list"
            if any(_BULLET.match(s) for _, s in stray)
            else ("plain text" if stray else "nothing")
        )
        problems.append(
            _problem(
                path,
                heading_line,
                "steps-not-numbered",
                f'the "{heading_text}" section must be a numbered list (1. ..., 2. ...), '
                f"found {what}; each numbered item is sent as one chat message",
            )
        )
        return body_lines[:index] + body_lines[end:], (), problems
    for line, text in stray:
        problems.append(
            _problem(
                path,
                line,
                "steps-stray-text",
                f'text inside "{heading_text}" is not part of a numbered step: "{text[:60]}"; '
                "indent it under a step or move it above the heading",
            )
        )
    numbers = [n for n, _ in steps]
    if numbers != list(range(1, len(numbers) + 1)) and numbers != [1] * len(numbers):
        problems.append(
            _problem(
                path,
                heading_line,
                "steps-order",
                f"steps are numbered {numbers}; they are sent in the order written, "
                "renumber them 1, 2, 3, ...",
                warning=True,
            )
        )
    parsed = tuple(Step(i, "\n".join(parts)) for i, (_, parts) in enumerate(steps, start=1))
    empty = [s.number for s in parsed if not s.text.strip()]
    if empty:
        problems.append(
            _problem(path, heading_line, "empty-step", f"step(s) {empty} have no text")
        )
    return body_lines[:index] + body_lines[end:], parsed, problems


def link_targets(body: str) -> list[tuple[int, str]]:
    """(line offset in body, target) of markdown links that point at other articles."""
    found = []
    for offset, line in enumerate(body.splitlines()):
        for match in _LINK.finditer(line):
            target = match.group(2)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith(
                ("#", "/")
            ):
                continue  # URL, mailto:, anchor or site path: not an article reference
            found.append((offset, target.split("#", 1)[0]))
    return found


def resolve_link(target: str, rel_path: str) -> list[str]:
    """Candidate article ids for a link: relative to the article's folder, then from the root."""
    target = target.removesuffix(".md")
    folder = PurePosixPath(rel_path).parent
    candidates = []
    relative = PurePosixPath(folder, target)
    parts: list[str] = []
    for part in relative.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    candidates.append("/".join(parts))
    candidates.append(target.lstrip("./"))
    return list(dict.fromkeys(candidates))


def parse_article(text: str, rel_path: str) -> tuple[Article | None, list[Problem]]:
    """Parse one article file; `rel_path` is its posix path relative to the knowledge base."""
    front, body, body_start, problems = split_front_matter(text, rel_path)
    if problems:
        return None, problems
    try:
        meta = yaml.safe_load(front) if front.strip() else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = 2 + (mark.line if mark is not None else 0)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        return None, [
            _problem(
                rel_path,
                line,
                "invalid-yaml",
                f"front matter is not valid YAML: {reason} (check quotes, "
                "colons and indentation on this line)",
            )
        ]
    if not isinstance(meta, dict):
        return None, [
            _problem(
                rel_path,
                2,
                "invalid-yaml",
                "front matter must be key: value pairs, e.g. title: ...",
            )
        ]
    lines = _key_lines(front, 2)
    for key in meta:
        if key not in ALLOWED_KEYS:
            problems.append(
                _problem(
                    rel_path,
                    lines.get(str(key), 2),
                    "unknown-key",
                    f"unknown front-matter key {key!r} (ignored); allowed keys: "
                    f"{', '.join(ALLOWED_KEYS)}",
                    warning=True,
                )
            )
    title = meta.get("title")
    if not isinstance(title, str | int) or not str(title).strip():
        problems.append(
            _problem(
                rel_path,
                lines.get("title", 1),
                "missing-title",
                'title is missing: add "title: ..." to the front matter',
            )
        )
    default_id, default_category, folder_lang = _defaults_from_path(rel_path)
    article_id = str(meta.get("id") or default_id).strip().strip("/")
    category = str(meta.get("category") or default_category)
    tags, tag_problems = _string_list(meta.get("tags"), "tags", rel_path, lines.get("tags", 2))
    questions, q_problems = _string_list(
        meta.get("questions"), "questions", rel_path, lines.get("questions", 2)
    )
    problems += tag_problems + q_problems

    body_lines, steps, step_problems = _parse_steps(body.splitlines(), body_start, rel_path)
    problems += step_problems
    clean_body = "\n".join(body_lines).strip()
    if not clean_body and not steps:
        problems.append(
            _problem(
                rel_path,
                body_start,
                "empty-body",
                "the article has no text after the front matter: write "
                "the answer users should read",
            )
        )
    declared = meta.get("lang")
    detected = detect_lang(f"{title or ''} {clean_body} {' '.join(s.text for s in steps)}")
    lang = folder_lang or detected
    if declared is not None:
        if str(declared).lower() not in _LANG_FOLDERS:
            problems.append(
                _problem(
                    rel_path,
                    lines.get("lang", 2),
                    "bad-lang",
                    f"lang must be ru or en, not {declared!r}",
                )
            )
        else:
            lang = _LANG_FOLDERS[str(declared).lower()]
            if lang is not detected and (clean_body or steps):
                problems.append(
                    _problem(
                        rel_path,
                        lines.get("lang", 2),
                        "lang-mismatch",
                        f"lang is {lang.value} but the text looks {detected.value}: "
                        "fix the lang or the text",
                        warning=True,
                    )
                )
    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    links = []
    for offset, target in link_targets(body):
        del offset
        links.append(target)
    article = Article(
        id=article_id,
        title=str(title).strip(),
        body=clean_body,
        category=category,
        tags=tags,
        lang=lang,
        questions=questions,
        steps=steps,
        source=rel_path,
        links=tuple(links),
    )
    return article, problems


def parse_canned_replies(text: str, rel_path: str) -> tuple[list[CannedReply], list[Problem]]:
    """Parse a canned replies YAML file: a list of {id, title, lang, tags, text}."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [
            _problem(
                rel_path,
                1 + (mark.line if mark else 0),
                "invalid-yaml",
                f"not valid YAML: {getattr(exc, 'problem', None) or exc}",
            )
        ]
    if data is None:
        return [], []
    if not isinstance(data, list):
        return [], [
            _problem(
                rel_path,
                1,
                "canned-format",
                "canned replies must be a YAML list of entries with id, title, lang and text",
            )
        ]
    replies: list[CannedReply] = []
    problems: list[Problem] = []
    lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.startswith("- ")]
    for index, item in enumerate(data):
        line = lines[index] if index < len(lines) else 1
        if not isinstance(item, dict):
            problems.append(_problem(rel_path, line, "canned-format", "entry must be a mapping"))
            continue
        missing = [k for k in ("id", "text") if not str(item.get(k) or "").strip()]
        if missing:
            problems.append(
                _problem(
                    rel_path,
                    line,
                    "canned-missing",
                    f"canned reply is missing {', '.join(missing)}",
                )
            )
            continue
        lang = str(item.get("lang") or detect_lang(str(item["text"])).value).lower()
        if lang not in _LANG_FOLDERS:
            problems.append(_problem(rel_path, line, "bad-lang", "lang must be ru or en"))
            continue
        tags, tag_problems = _string_list(item.get("tags"), "tags", rel_path, line)
        problems += tag_problems
        replies.append(
            CannedReply(
                id=str(item["id"]),
                title=str(item.get("title") or item["id"]),
                text=str(item["text"]).strip(),
                lang=_LANG_FOLDERS[lang],
                tags=tags,
            )
        )
    return replies, problems
