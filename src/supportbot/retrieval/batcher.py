"""A micro-batcher: concurrent requests gathered for a few milliseconds, run as one batch.

One message costs a forward pass of each encoder; 32 messages in one pass cost a few times
that, not 32 times. Under load the batches fill up on their own (requests arrive while a
batch runs); a lone request waits at most the window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")

DEFAULT_WINDOW_S = 0.005
DEFAULT_MAX_BATCH = 32


@dataclass(slots=True)
class _Pending(Generic[Request, Result]):
    request: Request
    future: asyncio.Future[Result]


class MicroBatcher(Generic[Request, Result]):
    """Runs `run_batch` in a worker thread over requests that arrived together.

    Requests are served in arrival order, so one user's messages keep their order. A batch
    returns one result per request, or an exception for a request that failed alone; the
    others are unaffected. At most one batch runs at a time: the CPU is the limit, and a
    second batch in parallel would only fight the first for it.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Request]], Sequence[Result | Exception]],
        *,
        window_s: float = DEFAULT_WINDOW_S,
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._run_batch = run_batch
        self.window_s = window_s
        self.max_batch = max_batch
        self._pending: list[_Pending[Request, Result]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0  # how many batches ran (tests and benchmarks read it)
        self.largest = 0

    async def submit(self, request: Request) -> Result:
        """The result of `request`, computed in a batch with whatever else arrives now."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._pending.append(_Pending(request, future))
        worker = self._worker
        if worker is None or worker.done() or worker.get_loop() is not loop:
            # One tracked worker at a time; it ends when nothing is pending, and every
            # request it serves is awaited by its submitter.
            self._worker = loop.create_task(self._drain(), name="micro-batcher")
        return await future

    async def _drain(self) -> None:
        while self._pending:
            if len(self._pending) < self.max_batch and self.window_s > 0:
                await asyncio.sleep(self.window_s)  # the window: let concurrent requests join
            batch = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            batch = [p for p in batch if not p.future.done()]  # cancelled by their callers
            if not batch:
                continue
            self.batches += 1
            self.largest = max(self.largest, len(batch))
            try:
                results = await asyncio.to_thread(self._run_batch, [p.request for p in batch])
            except Exception as exc:
                logger.exception("A batch of %d requests failed", len(batch))
                results = [exc] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
