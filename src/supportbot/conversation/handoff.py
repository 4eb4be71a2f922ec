"""`RecordingHandoff`: the in-memory `HandoffPort` used until the desk is wired, and in tests."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from supportbot.domain.handoff import HandoffRequest, HandoffState, HandoffStatus


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A user withdrew from the queue."""

    user_id: int
    solved: bool


@dataclass(slots=True)
class RecordingHandoff:
    """Records every handoff; answers with `state` (UNAVAILABLE: no desk; QUEUED in tests).

    With QUEUED, each user gets a ticket that stays open until `cancel_by_user` or
    `close(user_id)`, so the engine's "waiting for an operator" paths can be exercised.
    """

    state: HandoffState = HandoffState.UNAVAILABLE
    requests: list[HandoffRequest] = field(default_factory=list)
    cancellations: list[Cancellation] = field(default_factory=list)
    notes: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    _tickets: dict[int, int] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """Record the request; open a ticket unless the desk is "unavailable"."""
        self.requests.append(request)
        user_id = request.user.user_id
        if user_id in self._tickets:
            return HandoffStatus(HandoffState.ALREADY_OPEN, ticket_id=self._tickets[user_id])
        if self.state is HandoffState.UNAVAILABLE:
            return HandoffStatus(HandoffState.UNAVAILABLE)
        ticket = next(self._ids)
        self._tickets[user_id] = ticket
        position = len(self._tickets) if self.state is HandoffState.QUEUED else None
        return HandoffStatus(self.state, ticket_id=ticket, queue_position=position)

    async def open_ticket_id(self, user_id: int) -> int | None:
        """The user's open ticket, if any."""
        return self._tickets.get(user_id)

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """The user withdrew: their ticket is closed."""
        self.cancellations.append(Cancellation(user_id, solved))
        self._tickets.pop(user_id, None)

    async def note_suggestions(self, user_id: int, article_ids: Sequence[str]) -> None:
        """Record agent-assist suggestions."""
        self.notes.append((user_id, tuple(article_ids)))

    def close(self, user_id: int) -> None:
        """Close the user's ticket as an operator would."""
        self._tickets.pop(user_id, None)
