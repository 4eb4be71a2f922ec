"""`NoStaffHandoff`: the `HandoffPort` when no staff group is configured."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from supportbot.domain.handoff import (
    HandoffRequest,
    HandoffState,
    HandoffStatus,
    OpenTicket,
    UserMessage,
)

logger = logging.getLogger(__name__)


class NoStaffHandoff:
    """No desk: every handoff is told that no operator is available; nothing is kept."""

    async def hand_off(self, request: HandoffRequest) -> HandoffStatus:
        """No operator can take it (the user is told so)."""
        logger.info("handoff (%s) with no staff group configured", request.reason.value)
        return HandoffStatus(HandoffState.UNAVAILABLE)

    async def open_ticket(self, user_id: int) -> OpenTicket | None:
        """Nobody ever has a ticket."""
        return None

    async def forward(
        self, ticket_id: int, message: UserMessage, suggestions: Sequence[str]
    ) -> bool:
        """There is no ticket to take a message."""
        return False

    async def cancel_by_user(self, user_id: int, *, solved: bool) -> None:
        """Nothing to withdraw from."""
