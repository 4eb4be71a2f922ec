"""The desk's analytics events: built from a ticket, tagged with the user's experiment arms."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from supportbot.desk.models import Ticket
from supportbot.domain.events import Event, EventKind
from supportbot.domain.ports import EventLog

ArmsOf = Callable[[int], Mapping[str, str]]


class Journal:
    """Writes the desk's events to the event log."""

    def __init__(self, events: EventLog, arms: ArmsOf | None = None) -> None:
        self._events = events
        self._arms = arms

    def event(self, kind: EventKind, ticket: Ticket, now: datetime, **data: Any) -> Event:
        """An event about `ticket`; data that is None is left out."""
        return Event(
            ts=now,
            kind=kind,
            conversation_id=ticket.conversation_id,
            user_id=ticket.user_id,
            ticket_id=ticket.id,
            operator_id=ticket.operator_id,
            data={k: v for k, v in data.items() if v is not None},
            arms=dict(self._arms(ticket.user_id)) if self._arms is not None else {},
        )

    async def record(self, events: Sequence[Event]) -> None:
        """Append the events (nothing when there are none)."""
        if events:
            await self._events.append_many(events)
