"""Markup inside articles: links to other articles, and HTML that Telegram accepts.

Link finding is linear: link text never holds brackets and a destination never holds `[`,
`]` or `<`, so every character is looked at a bounded number of times, even on a line of
200,000 `[`. Code spans are found the CommonMark way (a run of N backticks closed by the
next run of exactly N) in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import PurePosixPath
from urllib.parse import unquote

from supportbot.knowledge.frontmatter import split_front_matter
from supportbot.knowledge.steps import fenced

# [text](target) or [text](<target> "title"); images (![alt](src)) are not article links.
_LINK = re.compile(
    r"(?<!!)\[[^\[\]\n]*\]\(\s*(<[^<>\n]*>|[^\s()\[\]<>]+)(?:\s+(?:\"[^\"\n]*\"|'[^'\n]*'))?\s*\)"
)
_BACKTICKS = re.compile(r"`+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class LinkRef:
    """A markdown link to another article: where it is and the ids it may mean."""

    line: int
    target: str
    candidates: tuple[str, ...]


def blank_code_spans(line: str) -> str:
    """The line with every code span replaced by spaces (nothing in code is a link)."""
    runs = [(m.start(), m.end()) for m in _BACKTICKS.finditer(line)]
    if len(runs) < 2:
        return line
    # The next run of the same length, found from the right in one pass.
    closer: list[int | None] = [None] * len(runs)
    seen: dict[int, int] = {}
    for index in range(len(runs) - 1, -1, -1):
        length = runs[index][1] - runs[index][0]
        closer[index] = seen.get(length)
        seen[length] = index
    pieces: list[str] = []
    done = 0
    index = 0
    while index < len(runs):
        close = closer[index]
        if close is None:
            index += 1
            continue
        start, end = runs[index][0], runs[close][1]
        pieces += [line[done:start], " " * (end - start)]
        done = end
        index = close + 1
    pieces.append(line[done:])
    return "".join(pieces)


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


def links_in_body(body: str, body_start: int, rel_path: str) -> list[LinkRef]:
    """Markdown links in an article body that point at other articles (not URLs)."""
    lines = body.splitlines()
    mask = fenced(lines)
    found: list[LinkRef] = []
    for offset, line in enumerate(lines):
        if mask[offset] or "](" not in line:
            continue
        for match in _LINK.finditer(blank_code_spans(line)):
            target = match.group(1).removeprefix("<").removesuffix(">").strip()
            if not target or _SCHEME.match(target) or target.startswith(("#", "?")):
                continue  # a URL, mailto: or an anchor on the same page
            found.append(LinkRef(body_start + offset, target, resolve_link(target, rel_path)))
    return found


def find_links(text: str, rel_path: str) -> list[LinkRef]:
    """Markdown links in an article file that point at other articles (not URLs)."""
    sections, _ = split_front_matter(text, rel_path)
    if sections is None:
        return []
    return links_in_body(sections.body, sections.body_start, rel_path)


# Telegram's HTML: these tags (and these attributes) only, properly nested, no link in a
# link, nothing but a code inside a pre. https://core.telegram.org/bots/api#html-style
_TELEGRAM_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "span": frozenset({"class"}),
    "tg-spoiler": frozenset(),
    "a": frozenset({"href"}),
    "tg-emoji": frozenset({"emoji-id"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "blockquote": frozenset({"expandable"}),
}
_ENTITY = re.compile(r"&(?!(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});)")


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.error: str | None = None

    def _fail(self, reason: str) -> None:
        if self.error is None:
            self.error = reason

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        allowed = _TELEGRAM_TAGS.get(tag)
        if allowed is None:
            self._fail(f"<{tag}> is not a tag Telegram knows")
            return
        extra = [name for name, _ in attrs if name not in allowed]
        if extra:
            self._fail(f"<{tag}> cannot have the attribute {extra[0]!r}")
        if tag == "a" and "a" in self.open:
            self._fail("a link inside a link")
        if self.open and self.open[-1] == "pre" and tag != "code":
            self._fail(f"<{tag}> inside <pre>")
        if "code" in self.open:
            self._fail(f"<{tag}> inside <code>")
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            inner = f"<{self.open[-1]}>" if self.open else "nothing"
            self._fail(f"</{tag}> closes {inner}: tags cross (bold and a link overlap?)")
            if tag in self.open:
                while self.open.pop() != tag:
                    pass
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "<" in data or ">" in data:
            self._fail("a bare < or > in the text")

    def unknown_decl(self, data: str) -> None:
        self._fail("an unknown declaration")


def telegram_html_error(text: str) -> str | None:
    """Why Telegram would reject `text` sent with parse_mode HTML, or None if it accepts it."""
    if _ENTITY.search(text):
        return "a bare & (Telegram accepts only &lt; &gt; &amp; &quot; and numeric entities)"
    checker = _TelegramHtml()
    checker.feed(text)
    checker.close()
    if checker.error is None and checker.open:
        checker.error = f"<{checker.open[-1]}> is never closed"
    return checker.error
