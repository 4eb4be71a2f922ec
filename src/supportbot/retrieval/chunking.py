"""Split articles into the chunks that are indexed: the title, each question, body passages."""

from __future__ import annotations

import re
from collections.abc import Iterable

from supportbot.domain.models import MAX_BODY_CHARS, Article, Chunk, ChunkKind

MAX_PASSAGE_CHARS = 400

_MARKDOWN_NOISE = re.compile(r"(\*\*|__|`|^#+\s*|^\s*[-*+]\s+|^\s*\d+[.)]\s+)", re.MULTILINE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")


def plain_text(markdown: str) -> str:
    """Markdown reduced to the words a user would read (links keep their text)."""
    text = _LINK.sub(r"\1", markdown)
    return _MARKDOWN_NOISE.sub("", text).strip()


def _passages(text: str) -> Iterable[str]:
    """Paragraphs merged up to MAX_PASSAGE_CHARS; a long paragraph is cut at sentences."""
    current = ""
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        pieces = [paragraph]
        if len(paragraph) > MAX_PASSAGE_CHARS:
            pieces = re.split(r"(?<=[.!?])\s+", paragraph)
        for piece in pieces:
            if current and len(current) + len(piece) + 1 > MAX_PASSAGE_CHARS:
                yield current
                current = ""
            current = f"{current} {piece}".strip()
    if current:
        yield current


def article_chunks(article: Article) -> list[Chunk]:
    """Every chunk of one article, title first."""
    chunks = [Chunk(article.id, ChunkKind.TITLE, article.title, article.lang)]
    chunks.extend(
        Chunk(article.id, ChunkKind.QUESTION, question, article.lang)
        for question in article.questions
        if question.strip()
    )
    # Only the start of an over-long article is searched (`kb check` warns about it):
    # thousands of passages would let it match every message a little.
    body = plain_text(article.body[:MAX_BODY_CHARS])
    if article.steps:
        body += "\n\n" + "\n\n".join(plain_text(step.text) for step in article.steps)
    seen = {c.text for c in chunks}
    for passage in _passages(body):
        # A passage and each of its sentences: a user's message is usually one sentence
        # long and matches one sentence better than a paragraph averaging several ideas.
        sentences = [s for s in _SENTENCE.split(passage) if len(s.split()) >= 3]
        for text in [passage, *sentences] if len(sentences) > 1 else [passage]:
            if text not in seen:
                seen.add(text)
                chunks.append(Chunk(article.id, ChunkKind.BODY, text, article.lang))
    return chunks
