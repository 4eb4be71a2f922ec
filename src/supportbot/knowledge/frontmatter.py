"""The `---` front matter of an article: cut it off, load its YAML safely, read its values.

YAML is loaded with a budget: aliases (`*a`) are shared references while the document is
composed, but anything that walks the values (validation, error messages) would expand
them, so a 500-byte alias bomb could mean billions of values. The composed node tree is
counted with aliases expanded and refused beyond `MAX_YAML_VALUES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from supportbot.domain.models import Lang, Problem
from supportbot.knowledge.problems import problem

# Far above any real front matter (tens of values) or canned replies file (a few hundred
# replies of five keys), far below what would take noticeable time or memory.
MAX_YAML_VALUES = 20_000
LANG_CODES: dict[str, Lang] = {lang.value: lang for lang in Lang}


@dataclass(frozen=True, slots=True)
class Sections:
    """A file split at its front matter; line numbers are 1-based lines of the file."""

    front: str
    body: str
    front_start: int
    body_start: int


class YamlTooComplexError(Exception):
    """The YAML expands to more values than `MAX_YAML_VALUES` (or nests too deeply)."""


def split_front_matter(text: str, path: str) -> tuple[Sections | None, list[Problem]]:
    """Cut the `---` front matter off the body; None and a problem when it is missing."""
    text = text.removeprefix("\ufeff")
    first, _, _ = text.partition("\n")
    if first.strip() != "---":
        if not text.strip():
            found = "the file is empty"
        elif not first.strip():
            found = "line 1 is empty"
        else:
            found = f'line 1 is "{first.strip()[:40]}"'
        return None, [
            problem(
                path,
                1,
                "no-front-matter",
                f'the file must start with front matter ({found}): a line "---", then '
                '"title: ...", then a closing "---", then the article text',
            )
        ]
    lines = text.splitlines()
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
        problem(
            path,
            1,
            "unterminated-front-matter",
            'the front matter opened by "---" on line 1 is never closed: add a line "---" '
            "after the last front-matter key",
        )
    ]


def _check_size(node: yaml.Node) -> None:
    """Raise when the tree, aliases expanded, holds more than `MAX_YAML_VALUES` nodes."""
    stack = [node]
    count = 0
    while stack:
        current = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise YamlTooComplexError
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack += (key, value)


class _BudgetLoader(yaml.SafeLoader):
    """A safe loader that stops composing after `MAX_YAML_VALUES` nodes.

    Tokens are scanned as nodes are composed, so stopping early also stops reading: a
    200 kB flow list of 100,000 tags costs what its first 20,000 do.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.budget = MAX_YAML_VALUES

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self.budget -= 1
        if self.budget < 0:
            raise YamlTooComplexError
        return super().compose_node(parent, index)


def load_yaml(text: str) -> tuple[Any, yaml.Node | None]:
    """The YAML document and its node tree (the nodes know the line of every key).

    Raises:
        yaml.YAMLError: the text is not valid YAML.
        YamlTooComplexError: the document expands to too many values or nests too deeply.
    """
    loader = _BudgetLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_size(node)
        return loader.construct_document(node), node
    except RecursionError as exc:
        raise YamlTooComplexError from exc
    finally:
        loader.dispose()


def too_complex_problem(path: str, line: int, what: str) -> Problem:
    """The problem reported for a `YamlTooComplexError`."""
    return problem(
        path,
        line,
        "yaml-too-complex",
        f"{what} expands to more than {MAX_YAML_VALUES:,} values or nests too deeply "
        "(YAML aliases such as *a repeated inside each other?): write the values out plainly",
    )


def yaml_problem(exc: yaml.YAMLError, path: str, first_line: int, what: str) -> Problem:
    """A YAML syntax error as a problem on the line the parser stopped at."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = first_line + (mark.line if mark is not None else 0)
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    context = getattr(exc, "context", None)
    detail = f"{context}, {reason}" if context else reason
    return problem(
        path,
        line,
        "invalid-yaml",
        f"{what} is not valid YAML ({detail}): check the quotes, colons and indentation "
        'on this line; text containing ": " or starting with [ { * & ! | > must be quoted',
    )


def key_lines(node: yaml.Node | None, first_line: int) -> dict[str, list[int]]:
    """Line(s) of every top-level key of a mapping node, by key."""
    lines: dict[str, list[int]] = {}
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            lines.setdefault(str(key.value)[:200], []).append(first_line + key.start_mark.line)
    return lines


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as text (numbers allowed: `tags: [2fa, 2024]`); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip()


def kind(value: Any) -> str:
    """What a YAML value is, in words."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a single string"
    if value is None:
        return "an empty value"
    return f"a {type(value).__name__}"


def short(value: Any) -> str:
    """A value as it may appear in a message: at most 60 characters."""
    text = repr(value) if not isinstance(value, list | dict) else _short_container(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _short_container(value: list[Any] | dict[Any, Any]) -> str:
    # repr() of a container walks all of it; the budget keeps that bounded, but a message
    # needs only the start.
    items = list(value.items())[:3] if isinstance(value, dict) else value[:3]
    inner = ", ".join(short(item) for item in items)
    more = ", ..." if len(value) > 3 else ""
    return f"{{{inner}{more}}}" if isinstance(value, dict) else f"[{inner}{more}]"


def string_list(
    value: Any, key: str, path: str, line: int, example: str
) -> tuple[tuple[str, ...], list[Problem]]:
    """A front-matter list of short texts (tags, questions); a problem when it is not one."""
    if value is None:
        return (), []
    if not isinstance(value, list):
        return (), [
            problem(
                path,
                line,
                f"bad-{key}",
                f"{key} must be a list, found {kind(value)}: write {example}",
            )
        ]
    items: list[str] = []
    for item in value:
        text = scalar_text(item)
        if text is None:
            hint = (
                ' (a ": " inside an item makes it a key: put the item in quotes)'
                if isinstance(item, dict)
                else ""
            )
            return (), [
                problem(
                    path,
                    line,
                    f"bad-{key}",
                    f"{key} must be a list of plain strings, found {kind(item)} "
                    f"{short(item)}{hint}: write {example}",
                )
            ]
        if text:
            items.append(text)
    return tuple(dict.fromkeys(items)), []
