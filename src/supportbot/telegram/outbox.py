"""`PacedOutbox`: sends into one group one at a time, at Telegram's pace, waiting out 429s."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from supportbot.desk.ports import StaffUnavailableError, TopicLostError
from supportbot.telegram.limits import NO_WAIT, SlidingWindow, retrying_429

logger = logging.getLogger(__name__)

T = TypeVar("T")


class PacedOutbox:
    """Sends into one group one at a time, at most `per_minute` a minute, waiting out 429s.

    `call` waits for the result; `post` does not (agent assist, notices). The worker is
    `run()`, owned by the caller's TaskGroup (or `running()` for a scoped one).
    """

    def __init__(
        self,
        per_minute: int = 20,
        *,
        window_s: float = 60.0,
        max_attempts: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._window = SlidingWindow(per_minute, window_s)
        self._max_attempts = max_attempts
        self._clock = clock
        self._not_before = 0.0
        self._queue: asyncio.Queue[
            tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any] | None]
        ] = asyncio.Queue()
        self._running = False
        self.sent = 0

    async def call(self, send: Callable[[], Awaitable[T]]) -> T:
        """Queue `send` and wait for its result (or its exception)."""
        if not self._running:
            # No worker (a CLI, a test without one): send right away, still paced.
            return await self._send(send)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((send, future))
        return await future

    def post(self, send: Callable[[], Awaitable[Any]]) -> None:
        """Queue `send` without waiting; failures are logged by the worker."""
        self._queue.put_nowait((send, None))

    async def run(self) -> None:
        """The worker, until cancelled: what is still queued then is dropped (callers drain
        the outbox first; waiting callers see their call cancelled).

        429s the session's own limits middleware gives up on (long waits) are retried here,
        and later sends wait them out too."""
        self._running = True
        try:
            while True:
                send, future = await self._queue.get()
                try:
                    await self._one(send, future)
                finally:
                    self._queue.task_done()
        finally:
            self._running = False
            while not self._queue.empty():
                send, future = self._queue.get_nowait()
                self._queue.task_done()
                if future is not None and not future.done():
                    future.cancel()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PacedOutbox]:
        """Run the worker for the body of the `async with`, draining it at the end."""
        worker = asyncio.create_task(self.run())
        try:
            yield self
            await self.drain()
        finally:
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def drain(self) -> None:
        """Wait until everything queued so far was sent."""
        await self._queue.join()

    async def _one(
        self, send: Callable[[], Awaitable[Any]], future: asyncio.Future[Any] | None
    ) -> None:
        try:
            result = await self._send(send)
        except Exception as error:
            if future is None:
                if isinstance(error, StaffUnavailableError | TopicLostError):
                    logger.warning("staff group: a queued message was not sent: %s", error)
                else:
                    logger.exception("staff group: a queued message failed")
            elif not future.done():
                future.set_exception(error)
        else:
            if future is not None and not future.done():
                future.set_result(result)

    async def _send(self, send: Callable[[], Awaitable[T]]) -> T:
        async def paced() -> T:
            await self._slot()
            return await send()

        def hold(retry_after: float) -> None:
            # Later sends wait it out too, whether or not this one is retried.
            self._not_before = self._clock() + retry_after

        # The slot waits out the 429 before the retry, so the retry itself need not.
        return await retrying_429(
            paced, max_attempts=self._max_attempts, on_429=hold, wait=NO_WAIT, label="staff group"
        )

    async def _slot(self) -> None:
        while True:
            now = self._clock()
            wait = max(self._not_before - now, self._window.wait_s(now))
            if wait <= 0:
                self._window.take(now)
                self.sent += 1
                return
            await asyncio.sleep(wait)
