"""The step-by-step guide inside an article: a `## Steps` section with a numbered list.

The section is read the way editors write it: an optional introduction between the heading
and the first item, the numbered list, and an optional closing note after it (a tip, a
warning, a short bullet list). A problem confined to the steps never takes the article off
the bot: when the section holds no usable list it stays in the body, served as plain text.
Every function here is linear in the length of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supportbot.domain.models import Problem, Step
from supportbot.knowledge.problems import problem

_STEPS_HEADING = re.compile(r"^(#{1,6})[ \t]*(steps|шаги)[ \t]*:?[ \t]*#*[ \t]*$", re.IGNORECASE)
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+|$)")
_NUMBERED = re.compile(r"^(\d{1,9})[.)](?:[ \t]+(.*))?$")
_BULLET = re.compile(r"^[-*+][ \t]+")
# Lines that start a new block even right after a step (no blank line): a bullet list, a
# quote or a rule. Any other unindented line there continues the step's paragraph.
_NEW_BLOCK = re.compile(r"^(?:[-*+][ \t]|>|(?:[-*_][ \t]*){3,}$)")
_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")


@dataclass(frozen=True, slots=True)
class Guide:
    """What the steps section yields: the body without it, and the guide's parts."""

    body_lines: list[str]
    intro: str = ""
    steps: tuple[Step, ...] = ()
    closing: str = ""


def fenced(lines: list[str]) -> list[bool]:
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


def _paragraphs(lines: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(line.rstrip() for line in lines)).strip()


@dataclass(slots=True)
class _Reading:
    """The section as it is read: intro lines, steps, the text after the list."""

    intro: list[str]
    steps: list[tuple[int, str, list[str]]]  # (number written, first line, more lines)
    after: list[str]
    after_line: int = 0  # the file line where the text after the list starts


def _read_section(
    section: list[str], first_line: int, path: str
) -> tuple[_Reading, list[Problem]]:
    reading = _Reading([], [], [])
    problems: list[Problem] = []
    previous_blank = True
    for offset, raw in enumerate(section):
        stripped = raw.strip()
        indented = raw[:1] in {" ", "\t"}
        numbered = None if indented else _NUMBERED.match(stripped)
        if numbered:
            if reading.after:
                # A paragraph between two items: markdown ends the list there, but the
                # numbers go on, so it is the same guide. The text stays with the step above.
                problems.append(
                    problem(
                        path,
                        reading.after_line,
                        "steps-interrupted",
                        f"text between steps {len(reading.steps)} and {len(reading.steps) + 1} "
                        f'is not indented ("{reading.after[0].strip()[:40]}"); it is sent with '
                        f"step {len(reading.steps)}: indent it under that step to say so, or "
                        "move it after the last step",
                        warning=True,
                    )
                )
                reading.steps[-1][2].extend(["", *reading.after])
                reading.after = []
            reading.steps.append((int(numbered.group(1)), (numbered.group(2) or "").strip(), []))
        elif not reading.steps:
            reading.intro.append(raw)
        elif reading.after:
            reading.after.append(raw)
        elif not stripped:
            reading.steps[-1][2].append("")
        elif indented or (not previous_blank and not _NEW_BLOCK.match(stripped)):
            # Indented lines belong to the step above; so does an unindented line right
            # after it (a markdown "lazy" continuation of the same paragraph).
            reading.steps[-1][2].append(raw if indented else stripped)
        else:
            reading.after = [raw]
            reading.after_line = first_line + offset
        previous_blank = not stripped
    return reading, problems


def parse_guide(body_lines: list[str], body_start: int, path: str) -> tuple[Guide, list[Problem]]:
    """Cut the steps section out of the body and read its introduction, list and closing."""
    mask = fenced(body_lines)
    headings = [
        (i, m)
        for i, line in enumerate(body_lines)
        if not mask[i] and len(line) < 200 and (m := _STEPS_HEADING.match(line.strip()))
    ]
    if not headings:
        return Guide(body_lines), []
    index, heading = headings[0]
    heading_line = body_start + index
    heading_text = body_lines[index].strip()
    problems = [
        problem(
            path,
            body_start + other,
            "duplicate-steps",
            f'a second "{body_lines[other].strip()}" section (the first is on line '
            f"{heading_line}): an article has one step-by-step guide, so this one is sent as "
            "plain text; merge them",
            warning=True,
        )
        for other, _ in headings[1:]
    ]
    level = len(heading.group(1))
    end = len(body_lines)
    for j in range(index + 1, len(body_lines)):
        other_heading = _HEADING.match(body_lines[j])
        if not mask[j] and other_heading and len(other_heading.group(1)) <= level:
            end = j
            break
    section = body_lines[index + 1 : end]
    reading, found = _read_section(section, heading_line + 1, path)
    problems += found
    if not reading.steps:
        problems.append(
            problem(
                path,
                heading_line,
                "steps-not-numbered",
                f'the "{heading_text}" section is not a numbered list (1. ..., 2. ...), '
                f"found {_what_was_found(section)}; the article is served without "
                "step-by-step buttons, as plain text, until it is one",
                warning=True,
            )
        )
        return Guide(body_lines), problems
    numbers = [number for number, _, _ in reading.steps]
    if numbers != list(range(1, len(numbers) + 1)) and numbers != [1] * len(numbers):
        problems.append(
            problem(
                path,
                heading_line,
                "steps-order",
                f"steps are numbered {', '.join(map(str, numbers))}; they are sent in the "
                "order written and renumbered 1, 2, 3, ...: fix the numbers so the text and "
                "the messages agree",
                warning=True,
            )
        )
    texts = [_step_text(first, rest) for _, first, rest in reading.steps]
    empty = [str(number) for number, text in enumerate(texts, start=1) if not text]
    if empty:
        problems.append(
            problem(
                path,
                heading_line,
                "empty-step",
                f"step {', '.join(empty)} has no text and is left out: write what the user "
                "should do, or remove the empty item",
                warning=True,
            )
        )
    steps = tuple(Step(i, text) for i, text in enumerate((t for t in texts if t), start=1))
    if not steps:
        return Guide(body_lines), problems
    guide = Guide(
        body_lines=body_lines[:index] + body_lines[end:],
        intro=_paragraphs(reading.intro),
        steps=steps,
        closing=_paragraphs(reading.after),
    )
    return guide, problems
