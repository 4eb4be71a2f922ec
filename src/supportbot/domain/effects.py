"""Work an update started that must finish before the update counts as handled.

A handler may leave sends running after it returns (the relay to a paced staff group); the
inbox marks an update done only once those are finished too, so a crash in between repeats
the update instead of losing the send. Services `follow` the tasks they start; the inbox
`collect`s them around each update (a context variable: tasks inherit it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_started: ContextVar[list[asyncio.Future[Any]] | None] = ContextVar(
    "supportbot_started_effects", default=None
)


def follow(task: asyncio.Future[Any]) -> None:
    """Count `task` as part of the update being handled (if any is being collected)."""
    started = _started.get()
    if started is not None:
        started.append(task)


@contextmanager
def collect() -> Iterator[list[asyncio.Future[Any]]]:
    """Collect what the body (and the tasks it starts) `follow`s."""
    started: list[asyncio.Future[Any]] = []
    token = _started.set(started)
    try:
        yield started
    finally:
        _started.reset(token)


async def finished(started: list[asyncio.Future[Any]]) -> None:
    """Wait for every collected task, also those added while waiting; their errors are
    theirs to log."""
    waited = 0
    while waited < len(started):
        batch = started[waited:]
        waited = len(started)
        await asyncio.gather(*batch, return_exceptions=True)
