"""JSON codecs the repositories share: times and conversation transcripts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from supportbot.domain.handoff import Author, TranscriptEntry


def dt(value: datetime | None) -> str | None:
    """A time as ISO text (None stays None)."""
    return value.isoformat() if value is not None else None


def parse_dt(value: Any) -> datetime | None:
    """The inverse of `dt`; anything but text is None."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def encode_transcript(entries: Iterable[TranscriptEntry]) -> list[dict[str, Any]]:
    """Transcript lines as JSON-ready dicts."""
    return [
        {
            "ts": e.ts.isoformat(),
            "author": e.author.value,
            "text": e.text,
            "article_id": e.article_id,
            "reaction": e.reaction,
        }
        for e in entries
    ]


def decode_transcript(items: Iterable[dict[str, Any]]) -> tuple[TranscriptEntry, ...]:
    """The inverse of `encode_transcript`."""
    return tuple(
        TranscriptEntry(
            ts=datetime.fromisoformat(e["ts"]),
            author=Author(e["author"]),
            text=e["text"],
            article_id=e.get("article_id"),
            reaction=e.get("reaction"),
        )
        for e in items
    )
