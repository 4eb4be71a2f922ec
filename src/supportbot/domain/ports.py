"""Ports: the small async interfaces the core talks to; adapters implement them."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

from supportbot.domain.events import Event
from supportbot.domain.models import Article, CannedReply, Decision


class EmbeddingCache(Protocol):
    """Stores embeddings by (model key, content hash) so unchanged text is never re-embedded."""

    async def get_many(self, model_key: str, hashes: Sequence[str]) -> dict[str, bytes]:
        """Return the stored vectors (raw float32 bytes) for the hashes that are cached."""
        ...

    async def put_many(self, model_key: str, items: Sequence[tuple[str, bytes]]) -> None:
        """Store (hash, raw float32 bytes) pairs."""
        ...

    async def get_artifact(self, kind: str, key: str) -> bytes | None:
        """What was computed from the embeddings (a fitted fusion, an index) under a key of
        everything it was computed from; None when absent."""
        ...

    async def put_artifact(self, kind: str, key: str, value: bytes) -> None:
        """Store such an artifact; a few recent ones per kind are kept."""
        ...


class EventLog(Protocol):
    """The append-only analytics log."""

    async def append(self, event: Event) -> None:
        """Record one event."""
        ...

    async def append_many(self, events: Sequence[Event]) -> None:
        """Record many events at once."""
        ...

    async def read(self, since: datetime, until: datetime) -> list[Event]:
        """Events with since <= ts < until, oldest first."""
        ...


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (numpy array of shape (n, dim)).

    `key` identifies the model and its settings, so cached vectors of another model are
    never mixed in. `symmetric` is true when a query and a passage of the same text get the
    same vector (no query/passage prefixes), so article questions can stand in for queries.
    `embed` is CPU work: call it in a thread from async code.
    """

    key: str
    dim: int
    symmetric: bool

    def embed(self, texts: Sequence[str], *, query: bool = False) -> Any:
        """Embed texts; `query=True` for user messages, False for article passages."""
        ...


class Suggester(Protocol):
    """The FAQ suggester as the conversation and the desk see it."""

    async def decide(
        self,
        text: str,
        *,
        exclude: Collection[str] = (),
        answer_threshold: float | None = None,
        suggest_threshold: float | None = None,
        max_suggestions: int | None = None,
    ) -> Decision:
        """Decide answer / suggest / handoff for one message.

        Args:
            text: the user's message.
            exclude: article ids already shown or rejected in this conversation.
            answer_threshold: override of the configured threshold (A/B experiments).
            suggest_threshold: likewise.
            max_suggestions: likewise.
        """
        ...

    def article(self, article_id: str) -> Article | None:
        """The article currently served under that id, if any."""
        ...

    def canned_replies(self) -> Sequence[CannedReply]:
        """The canned operator replies currently loaded."""
        ...


class UpdateInbox(Protocol):
    """Updates from the chat platform, stored before the platform is told they arrived.

    An update is `add`ed (raw JSON, by its id) before it is confirmed, and marked `done`
    once its effects are stored; after a crash, `pending` gives back what was not done.
    Adding an id seen before changes nothing, so a redelivered update is handled once.
    """

    async def add(self, updates: Sequence[tuple[int, str]]) -> list[int]:
        """Store (update id, raw JSON) pairs; the ids not seen before, in the given order."""
        ...

    async def pending(self, limit: int = 1000) -> list[tuple[int, str]]:
        """Updates stored and not yet done, oldest id first."""
        ...

    async def done(self, update_id: int) -> None:
        """Mark an update as handled (its effects are stored)."""
        ...

    async def resumed(self, update_id: int) -> int:
        """Count one more start that found the update not done; the count so far (an update
        that brings the process down every time is given up after a few)."""
        ...

    async def last_id(self) -> int | None:
        """The highest update id ever stored (None when empty): where polling resumes."""
        ...

    async def forget_done(self, keep: int) -> None:
        """Drop handled updates except the `keep` newest (bounded storage)."""
        ...
