"""Watch the knowledge base directory and call back with the changed files (watchfiles)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from watchfiles import Change, awatch

logger = logging.getLogger(__name__)

_WATCHED = (".md", ".yaml", ".yml")


def _relevant(change: Change, path: str) -> bool:
    del change
    return path.lower().endswith(_WATCHED)


async def watch_knowledge_base(
    root: Path,
    on_change: Callable[[set[Path]], Awaitable[None]],
    *,
    debounce_ms: int = 800,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Call `on_change` with the changed article files until `stop_event` is set.

    Changes arriving within `debounce_ms` of each other are delivered together, so an
    editor saving several files (or writing one in several steps) causes one reload.
    A failing callback is logged and watching goes on.
    """
    logger.info("Watching %s for changes", root)
    async for changes in awatch(
        root,
        watch_filter=_relevant,
        debounce=debounce_ms,
        step=50,
        stop_event=stop_event,
        recursive=True,
    ):
        paths = {Path(path) for _, path in changes}
        try:
            await on_change(paths)
        except Exception:
            logger.exception("Reloading the knowledge base failed; the previous one stays served")
