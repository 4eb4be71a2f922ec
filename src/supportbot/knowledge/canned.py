"""Canned replies: a YAML list of ready-made operator answers with {name}/{operator}."""

from __future__ import annotations

import string
from dataclasses import dataclass

import yaml

from supportbot.domain.models import CannedReply, Problem
from supportbot.knowledge.frontmatter import (
    LANG_CODES,
    YamlTooComplexError,
    key_lines,
    kind,
    load_yaml,
    scalar_text,
    short,
    string_list,
    too_complex_problem,
    yaml_problem,
)
from supportbot.knowledge.problems import problem

CANNED_KEYS = ("id", "title", "lang", "tags", "text")
CANNED_PLACEHOLDERS = ("name", "operator")


@dataclass(frozen=True, slots=True)
class CannedEntry:
    """A canned reply and the line of the file where it starts."""

    reply: CannedReply
    line: int


def _placeholderproblem(text: str) -> str | None:
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
        data, node = load_yaml(text.removeprefix("\ufeff"))
    except yaml.YAMLError as exc:
        return [], [yaml_problem(exc, rel_path, 1, "the file")]
    except YamlTooComplexError:
        return [], [too_complex_problem(rel_path, 1, "the file")]
    if data is None:
        return [], []
    if not isinstance(data, list) or not isinstance(node, yaml.SequenceNode):
        return [], [
            problem(
                rel_path,
                1,
                "canned-format",
                f"canned replies must be a YAML list (each entry starting with "
                f'"- id: ..."), found {kind(data)}',
            )
        ]
    entries: list[CannedEntry] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for item, item_node in zip(data, node.value, strict=True):
        line = 1 + item_node.start_mark.line
        if not isinstance(item, dict):
            problems.append(
                problem(
                    rel_path,
                    line,
                    "canned-format",
                    f"each canned reply must be a mapping with {', '.join(CANNED_KEYS)}; "
                    f"found {kind(item)} {short(item)}",
                )
            )
            continue
        item_lines = key_lines(item_node, 1)
        for key, lines in item_lines.items():
            if key not in CANNED_KEYS:
                problems.append(
                    problem(
                        rel_path,
                        lines[0],
                        "unknown-key",
                        f"unknown canned reply key {key!r} is ignored (a typo?); allowed "
                        f"keys: {', '.join(CANNED_KEYS)}",
                        warning=True,
                    )
                )
        fields = {key: scalar_text(item.get(key)) for key in ("id", "title", "text", "lang")}
        missing = [key for key in ("id", "title", "text") if not fields[key]]
        if missing:
            problems.append(
                problem(
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
                problem(
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
                problem(
                    rel_path,
                    item_lines.get("lang", [line])[0],
                    "bad-lang",
                    f"canned reply {reply_id!r}: lang must be ru or en, "
                    f"found {short(item.get('lang'))}",
                )
            )
            continue
        placeholder = _placeholderproblem(reply_text)
        if placeholder:
            problems.append(
                problem(
                    rel_path,
                    item_lines.get("text", [line])[0],
                    "bad-placeholder",
                    f"canned reply {reply_id!r}: {placeholder}",
                )
            )
            continue
        tags, tag_problems = string_list(
            item.get("tags"),
            "tags",
            rel_path,
            item_lines.get("tags", [line])[0],
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
