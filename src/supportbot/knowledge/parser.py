"""Parse one markdown article (YAML front matter + body + optional steps) into an `Article`.

Everything here is pure: text in, domain values and `Problem`s out. Every problem names
the file and the 1-based line in the file, and says what is wrong and what is expected,
so a content editor can fix it from the message alone.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote

import yaml

from supportbot.domain.models import (
    MAX_BODY_CHARS,
    Article,
    CannedReply,
    Lang,
    Problem,
    Severity,
    Step,
)
from supportbot.domain.text import detect_lang

ALLOWED_KEYS = ("id", "title", "category", "tags", "lang", "questions")
CANNED_KEYS = ("id", "title", "lang", "tags", "text")
CANNED_PLACEHOLDERS = ("name", "operator")
LANG_CODES: dict[str, Lang] = {lang.value: lang for lang in Lang}

_STEPS_HEADING = re.compile(r"^(#{1,6})[ \t]*(steps|шаги)[ \t]*:?[ \t]*#*[ \t]*$", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)")
_NUMBERED = re.compile(r"^(\d{1,9})[.)](?:[ \t]+(.*))?$")
_BULLET = re.compile(r"^[-*+][ \t]+")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) or [text](<target> "title"); images (![alt](src)) are not article links.
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
_BAD_ID = re.compile(r"\s|\.md$|^/|/$|//|(^|/)\.\.?(/|$)")


@dataclass(frozen=True, slots=True)
class Sections:
    """A file split at its front matter; line numbers are 1-based lines of the file."""

    front: str
    body: str
    front_start: int
    body_start: int


@dataclass(frozen=True, slots=True)
class LinkRef:
    """A markdown link to another article: where it is and the ids it may mean."""

    line: int
    target: str
    candidates: tuple[str, ...]


def _problem(path: str, line: int, code: str, message: str, *, warning: bool = False) -> Problem:
    severity = Severity.WARNING if warning else Severity.ERROR
    return Problem(path=path, line=line, severity=severity, code=code, message=message)


def split_front_matter(text: str, path: str) -> tuple[Sections | None, list[Problem]]:
    """Cut the `---` front matter off the body; None and a problem when it is missing."""
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        if not text.strip():
            found = "the file is empty"
        elif not lines[0].strip():
            found = "line 1 is empty"
        else:
            found = f'line 1 is "{lines[0].strip()[:40]}"'
        return None, [
            _problem(
                path,
                1,
                "no-front-matter",
                f'the file must start with front matter ({found}): a line "---", then '
                '"title: ...", then a closing "---", then the article text',
            )
        ]
    for index in range(1, len(lines)):
        if lines[index].rstrip() in {"---", "..."}:
            return (
                Sections(
                    front="\n".join(lines[1:index]),
                    body="\n".join(lines[index + 1 :]),
                    front_start=2,
                    body_start=index + 2,
                ),
                [],
            )
    return None, [
        _problem(
            path,
            1,
            "unterminated-front-matter",
            'the front matter opened by "---" on line 1 is never closed: add a line "---" '
            "after the last front-matter key",
        )
    ]


def _load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document and its node tree (the nodes know the line of every key)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    return data, node


def _yaml_problem(exc: yaml.YAMLError, path: str, first_line: int, what: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + (mark.line if mark is not None else 0)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{context}, {reason}" if context else reason
    return _problem(
        path,
        line,
        "invalid-yaml",
        f"{what} is not valid YAML ({detail}): check the quotes, colons and indentation "
        'on this line; text containing ": " or starting with [ { * & ! | > must be quoted',
    )


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, list[int]]:
    """Line(s) of every top-level key of a mapping node, by key."""
    lines: dict[str, list[int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            lines.setdefault(str(key.value), []).append(first_line + key.start_mark.line)
    return lines


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


def _scalar_text(value: Any) -> str | None:
    """A YAML scalar as text (numbers allowed: `tags: [2fa, 2024]`); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip()


def _string_list(
    value: Any, key: str, path: str, line: int, example: str
) -> tuple[tuple[str, ...], list[Problem]]:
    if value is None:
        return (), []
    if not isinstance(value, list):
        return (), [
            _problem(
                path,
                line,
                f"bad-{key}",
                f"{key} must be a list, found {_kind(value)}: write {example}",
            )
        ]
    items: list[str] = []
    for item in value:
        text = _scalar_text(item)
        if text is None:
            hint = (
                ' (a ": " inside an item makes it a key: put the item in quotes)'
                if isinstance(item, dict)
                else ""
            )
            return (), [
                _problem(
                    path,
                    line,
                    f"bad-{key}",
                    f"{key} must be a list of plain strings, found {_kind(item)} "
                    f"{_short(item)}{hint}: write {example}",
                )
            ]
        if text:
            items.append(text)
    return tuple(dict.fromkeys(items)), []


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single string"
    if value is None:
        return "an empty value"
    return f"a {type(value).__name__}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _fenced(lines: list[str]) -> list[bool]:
    """Which lines are inside (or delimit) a fenced code block: no headings or links there."""
    mask: list[bool] = []
    fence = ""
    for line in lines:
        match = _FENCE.match(line)
        if fence:
            mask.append(True)
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
        elif match:
            fence = match.group(1)
            mask.append(True)
        else:
            mask.append(False)
    return mask


def _what_was_found(lines: list[str]) -> str:
    content = [line.strip() for line in lines if line.strip()]
    if not content:
        return "nothing: the section is empty"
    if any(_BULLET.match(line) for line in content):
        return f'a bullet list ("{content[0][:40]}"): use "1.", "2.", ... instead of "-"'
    if any(_NUMBERED.match(line) for line in content):
        return "an indented numbered list: start each step at the beginning of the line"
    return f'plain text ("{content[0][:40]}")'


def _leading(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _step_text(first: str, rest: list[str]) -> str:
    """A step's markdown: continuation lines keep their relative indentation and paragraphs."""
    indent = min((_leading(line) for line in rest if line.strip() and _leading(line)), default=0)
    block = "\n".join(line[min(indent, _leading(line)) :].rstrip() for line in rest)
    text = f"{first}\n{block}" if block.strip() else first
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _parse_steps(
    body_lines: list[str], body_start: int, path: str
) -> tuple[list[str], tuple[Step, ...], list[Problem]]:
    """Cut the steps section out of the body and parse its numbered list."""
    fenced = _fenced(body_lines)
    headings = [
        (i, m)
        for i, line in enumerate(body_lines)
        if not fenced[i] and (m := _STEPS_HEADING.match(line.strip()))
    ]
    if not headings:
        return body_lines, (), []
    index, heading = headings[0]
    heading_line = body_start + index
    heading_text = body_lines[index].strip()
    problems = [
        _problem(
            path,
            body_start + other,
            "duplicate-steps",
            f'a second "{body_lines[other].strip()}" section (the first is on line '
            f"{heading_line}): an article has one step-by-step guide; merge them",
        )
        for other, _ in headings[1:]
    ]
    level = len(heading.group(1))
    end = len(body_lines)
    for j in range(index + 1, len(body_lines)):
        other_heading = _HEADING.match(body_lines[j])
        if not fenced[j] and other_heading and len(other_heading.group(1)) <= level:
            end = j
            break
    section = body_lines[index + 1 : end]
    remaining = body_lines[:index] + body_lines[end:]

    steps: list[tuple[int, str, list[str]]] = []  # (number written, first line, more lines)
    stray: list[tuple[int, str]] = []
    previous_blank = True
    for offset, raw in enumerate(section):
        stripped = raw.strip()
        indented = raw[:1] in {" ", "\t"}
        numbered = None if indented else _NUMBERED.match(stripped)
        if numbered:
            steps.append((int(numbered.group(1)), (numbered.group(2) or "").strip(), []))
        elif not stripped:
            if steps:
                steps[-1][2].append("")
        elif steps and (indented or not previous_blank):
            # Indented lines belong to the step above; so does an unindented line right
            # after it (a markdown "lazy" continuation of the same paragraph).
            steps[-1][2].append(raw if indented else stripped)
        else:
            stray.append((heading_line + 1 + offset, stripped))
        previous_blank = not stripped

    if not steps:
        problems.append(
            _problem(
                path,
                heading_line,
                "steps-not-numbered",
                f'the "{heading_text}" section must be a numbered list (1. ..., 2. ...), '
                f"found {_what_was_found(section)}; each numbered item is sent to the user "
                "as one message",
            )
        )
        return remaining, (), problems
    for line, text in stray:
        problems.append(
            _problem(
                path,
                line,
                "steps-stray-text",
                f'text inside the "{heading_text}" section is not part of a numbered step: '
                f'"{text[:60]}"; indent it under a step to make it part of that step, or move '
                "it above the heading",
            )
        )
    numbers = [number for number, _, _ in steps]
    if numbers != list(range(1, len(numbers) + 1)) and numbers != [1] * len(numbers):
        problems.append(
            _problem(
                path,
                heading_line,
                "steps-order",
                f"steps are numbered {', '.join(map(str, numbers))}; they are sent in the "
                "order written and renumbered 1, 2, 3, ...: fix the numbers so the text and "
                "the messages agree",
                warning=True,
            )
        )
    parsed = tuple(
        Step(i, _step_text(first, rest)) for i, (_, first, rest) in enumerate(steps, start=1)
    )
    empty = [str(step.number) for step in parsed if not step.text]
    if empty:
        problems.append(
            _problem(
                path,
                heading_line,
                "empty-step",
                f"step {', '.join(empty)} has no text: write what the user should do, "
                "or remove the empty item",
            )
        )
    return remaining, parsed, problems


def _normalise(parts: list[str]) -> str | None:
    """Collapse . and .. in a posix path; None when it climbs above the root."""
    out: list[str] = []
    for part in parts:
        if part in {"", "."}:
            continue
        if part == "..":
            if not out:
                return None
            out.pop()
        else:
            out.append(part)
    return "/".join(out) or None


def resolve_link(target: str, rel_path: str) -> tuple[str, ...]:
    """Candidate article ids for a link target, most likely first.

    `./x` and `../x` are relative to the article's folder and `/x` is from the root; a bare
    `a/b` may be either, so both are returned (from the root first when it has a folder).
    """
    target = unquote(target.split("#", 1)[0].split("?", 1)[0]).strip()
    target = target.removesuffix(".md").removesuffix(".MD")
    folder = PurePosixPath(rel_path).parent.parts
    relative = _normalise([*folder, *target.split("/")])
    from_root = _normalise(target.split("/"))
    if target.startswith("/"):
        candidates = [from_root]
    elif target.startswith(("./", "../")) or target in {".", ".."}:
        candidates = [relative]
    elif "/" in target:
        candidates = [from_root, relative]
    else:
        candidates = [relative, from_root]
    return tuple(dict.fromkeys(c for c in candidates if c))


def find_links(text: str, rel_path: str) -> list[LinkRef]:
    """Markdown links in an article file that point at other articles (not URLs)."""
    sections, _ = split_front_matter(text, rel_path)
    if sections is None:
        return []
    lines = sections.body.splitlines()
    fenced = _fenced(lines)
    found: list[LinkRef] = []
    for offset, line in enumerate(lines):
        if fenced[offset]:
            continue
        for match in _LINK.finditer(_CODE_SPAN.sub(lambda m: " " * len(m.group(0)), line)):
            target = match.group(1).removeprefix("<").removesuffix(">").strip()
            if not target or _SCHEME.match(target) or target.startswith(("#", "?")):
                continue  # a URL, mailto: or an anchor on the same page
            found.append(
                LinkRef(sections.body_start + offset, target, resolve_link(target, rel_path))
            )
    return found


def _check_id(value: Any, default: str, path: str, line: int) -> tuple[str, list[Problem]]:
    if value is None:
        return default, []
    text = _scalar_text(value)
    if not text or _BAD_ID.search(text):
        return default, [
            _problem(
                path,
                line,
                "bad-id",
                f"id {_short(value)} is not usable: write a path-like id without spaces, "
                f'".md" or leading/trailing "/" (e.g. id: {default}), or remove the line to '
                "use the file path",
            )
        ]
    return text, []


def parse_article(text: str, rel_path: str) -> tuple[Article | None, list[Problem]]:
    """Parse one article file; `rel_path` is its posix path relative to the knowledge base.

    Returns the article (None when there is any error) and every problem found.
    """
    sections, problems = split_front_matter(text, rel_path)
    if sections is None:
        return None, problems
    try:
        meta, node = _load_yaml(sections.front)
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, rel_path, sections.front_start, "the front matter")]
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        return None, [
            _problem(
                rel_path,
                sections.front_start,
                "bad-front-matter",
                f"the front matter must be key: value lines (title: ..., tags: [...]), "
                f"found {_kind(meta)}",
            )
        ]
    key_lines = _key_lines(node, sections.front_start)

    def line_of(key: str) -> int:
        return key_lines.get(key, [sections.front_start])[0]

    for key, lines in key_lines.items():
        if key not in ALLOWED_KEYS:
            problems.append(
                _problem(
                    rel_path,
                    lines[0],
                    "unknown-key",
                    f"unknown front-matter key {key!r} is ignored (a typo?); allowed keys: "
                    f"{', '.join(ALLOWED_KEYS)}",
                    warning=True,
                )
            )
        for repeat in lines[1:]:
            problems.append(
                _problem(
                    rel_path,
                    repeat,
                    "duplicate-key",
                    f"{key!r} is set twice (first on line {lines[0]}); only this last value "
                    "is used: remove one of them",
                    warning=True,
                )
            )

    title = _scalar_text(meta.get("title"))
    if not title:
        problems.append(
            _problem(
                rel_path,
                line_of("title") if "title" in meta else 1,
                "missing-title",
                'title is missing: add "title: ..." to the front matter'
                if "title" not in meta
                else "title is empty or not text: write the article's title after "
                '"title: " (in quotes if it contains ": ")',
            )
        )
    default_id, default_category, folder_lang = _defaults_from_path(rel_path)
    article_id, id_problems = _check_id(meta.get("id"), default_id, rel_path, line_of("id"))
    problems += id_problems
    category = default_category
    if meta.get("category") is not None:
        written = _scalar_text(meta["category"])
        if written is None:
            problems.append(
                _problem(
                    rel_path,
                    line_of("category"),
                    "bad-category",
                    f"category must be one word or phrase, found {_kind(meta['category'])}: "
                    f"write e.g. category: {default_category or 'payments'}",
                )
            )
        else:
            category = written
    tags, tag_problems = _string_list(
        meta.get("tags"), "tags", rel_path, line_of("tags"), "tags: [card, payment]"
    )
    questions, question_problems = _string_list(
        meta.get("questions"),
        "questions",
        rel_path,
        line_of("questions"),
        'one phrasing per line under "questions:", each starting with "  - "',
    )
    problems += tag_problems + question_problems

    body_lines, steps, step_problems = _parse_steps(
        sections.body.splitlines(), sections.body_start, rel_path
    )
    problems += step_problems
    body = "\n".join(body_lines).strip()
    if not body and not steps:
        problems.append(
            _problem(
                rel_path,
                sections.body_start,
                "empty-body",
                "the article has no text after the front matter: write the answer users "
                "should read below the closing ---",
            )
        )

    if len(body) > MAX_BODY_CHARS:
        problems.append(
            _problem(
                rel_path,
                sections.body_start,
                "too-long",
                f"the article is {len(body):,} characters long: a chat answer should be "
                f"short; split it into articles of one question each (only the first "
                f"{MAX_BODY_CHARS:,} characters are searched)",
                warning=True,
            )
        )

    detected = detect_lang(" ".join([title or "", body, *(s.text for s in steps)]))
    lang = folder_lang or detected
    declared = meta.get("lang")
    if declared is not None:
        code = str(declared).strip().lower()
        if code not in LANG_CODES:
            problems.append(
                _problem(
                    rel_path,
                    line_of("lang"),
                    "bad-lang",
                    f"lang must be ru or en, not {_short(declared)}: write lang: ru or "
                    "lang: en, or remove the line to detect it from the text",
                )
            )
        else:
            lang = LANG_CODES[code]
            if folder_lang is not None and lang is not folder_lang:
                problems.append(
                    _problem(
                        rel_path,
                        line_of("lang"),
                        "lang-folder-mismatch",
                        f"lang is {lang.value} but the file is in the {folder_lang.value}/ "
                        "folder: move the file or fix the lang",
                        warning=True,
                    )
                )
    stated = declared is not None or folder_lang is not None
    if stated and (body or steps) and lang is not detected:
        source = "lang" if declared is not None else f"the {lang.value}/ folder"
        problems.append(
            _problem(
                rel_path,
                line_of("lang") if declared is not None else 1,
                "lang-mismatch",
                f"{source} says {lang.value} but the text looks {detected.value}: "
                "fix the lang (or move the file) or translate the text",
                warning=True,
            )
        )

    if any(p.severity is Severity.ERROR for p in problems):
        return None, problems
    links = tuple(dict.fromkeys(link.candidates[0] for link in find_links(text, rel_path)))
    article = Article(
        id=article_id,
        title=title or "",
        body=body,
        category=category,
        tags=tags,
        lang=lang,
        questions=questions,
        steps=steps,
        source=rel_path,
        links=links,
    )
    return article, problems


@dataclass(frozen=True, slots=True)
class CannedEntry:
    """A canned reply and the line of the file where it starts."""

    reply: CannedReply
    line: int


def _placeholder_problem(text: str) -> str | None:
    """Why the reply's {placeholders} cannot be filled in, or None when they can."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return (
            "the text has an unmatched { or }: placeholders are written {name} and {operator}; "
            "write {{ or }} for a literal brace"
        )
    unknown = sorted({f for f in fields if f not in CANNED_PLACEHOLDERS})
    if unknown:
        return (
            f"unknown placeholder {', '.join('{' + f + '}' for f in unknown)}: only {{name}} "
            "(the user's first name) and {operator} (the operator's name) are filled in"
        )
    return None


def canned_entries(text: str, rel_path: str) -> tuple[list[CannedEntry], list[Problem]]:
    """Parse a canned replies YAML file, keeping the line of each reply."""
    try:
        data, node = _load_yaml(text.removeprefix("\ufeff"))
    except yaml.YAMLError as exc:
        return [], [_yaml_problem(exc, rel_path, 1, "the file")]
    if data is None:
        return [], []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        return [], [
            _problem(
                rel_path,
                1,
                "canned-format",
                f"canned replies must be a YAML list (each entry starting with "
                f'"- id: ..."), found {_kind(data)}',
            )
        ]
    entries: list[CannedEntry] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for item, item_node in zip(data, node.value, strict=True):
        line = 1 + item_node.start_mark.line
        if not isinstance(item, dict):
            problems.append(
                _problem(
                    rel_path,
                    line,
                    "canned-format",
                    f"each canned reply must be a mapping with {', '.join(CANNED_KEYS)}; "
                    f"found {_kind(item)} {_short(item)}",
                )
            )
            continue
        key_lines = _key_lines(item_node, 1)
        for key, lines in key_lines.items():
            if key not in CANNED_KEYS:
                problems.append(
                    _problem(
                        rel_path,
                        lines[0],
                        "unknown-key",
                        f"unknown canned reply key {key!r} is ignored (a typo?); allowed "
                        f"keys: {', '.join(CANNED_KEYS)}",
                        warning=True,
                    )
                )
        fields = {key: _scalar_text(item.get(key)) for key in ("id", "title", "text", "lang")}
        missing = [key for key in ("id", "title", "text") if not fields[key]]
        if missing:
            problems.append(
                _problem(
                    rel_path,
                    line,
                    "canned-missing",
                    f"canned reply {fields['id'] or f'#{len(entries) + 1}'} is missing "
                    f"{' and '.join(missing)}: every reply needs id, title, lang and text",
                )
            )
            continue
        reply_id, title, reply_text = str(fields["id"]), str(fields["title"]), str(fields["text"])
        if reply_id in seen:
            problems.append(
                _problem(
                    rel_path,
                    line,
                    "duplicate-id",
                    f"canned reply id {reply_id!r} is already used on line {seen[reply_id]}: "
                    "give one of them a different id",
                )
            )
            continue
        code = (fields["lang"] or "").lower()
        if code not in LANG_CODES:
            problems.append(
                _problem(
                    rel_path,
                    key_lines.get("lang", [line])[0],
                    "bad-lang",
                    f"canned reply {reply_id!r}: lang must be ru or en, "
                    f"found {_short(item.get('lang'))}",
                )
            )
            continue
        placeholder = _placeholder_problem(reply_text)
        if placeholder:
            problems.append(
                _problem(
                    rel_path,
                    key_lines.get("text", [line])[0],
                    "bad-placeholder",
                    f"canned reply {reply_id!r}: {placeholder}",
                )
            )
            continue
        tags, tag_problems = _string_list(
            item.get("tags"),
            "tags",
            rel_path,
            key_lines.get("tags", [line])[0],
            "tags: [hello, greeting]",
        )
        problems += tag_problems
        seen[reply_id] = line
        entries.append(
            CannedEntry(
                CannedReply(
                    id=reply_id, title=title, text=reply_text, lang=LANG_CODES[code], tags=tags
                ),
                line,
            )
        )
    return entries, problems


def parse_canned_replies(text: str, rel_path: str) -> tuple[list[CannedReply], list[Problem]]:
    """Parse a canned replies YAML file: a list of {id, title, lang, tags?, text}.

    Broken entries are skipped with a problem; the others are still returned.
    """
    entries, problems = canned_entries(text, rel_path)
    return [entry.reply for entry in entries], problems
