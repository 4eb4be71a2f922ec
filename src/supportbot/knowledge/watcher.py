"""Watch the knowledge base directory and call back with the changed files (watchfiles)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path, PurePosixPath

from watchfiles import Change, awatch

from supportbot.knowledge.loader import is_skipped

logger = logging.getLogger(__name__)

WATCHED_SUFFIXES = (".md", ".yaml", ".yml")


def _filter_for(root: Path) -> Callable[[Change, str], bool]:
    """Only files the loader reads: editor swap files, drafts and hidden files cause no reload."""
    resolved = root.resolve()

    def relevant(change: Change, path: str) -> bool:
        del change  # added, modified and deleted files all change what is served
        # A folder moved or deleted in one go is reported as the folder alone: it may
        # carry articles (a path without a suffix is taken for a folder; an extra
        # reload of an unchanged base is cheap).
        folder = not PurePosixPath(path).suffix
        if not folder and not path.lower().endswith(WATCHED_SUFFIXES):
            return False
        try:
            rel = PurePosixPath(Path(path).resolve().relative_to(resolved).as_posix())
        except (ValueError, OSError, RuntimeError):
            # Outside the root, or a looping link (RuntimeError): judged by its name; the
            # loader reports such links, and the watcher must never die of one.
            rel = PurePosixPath(Path(path).name)
        return not is_skipped(rel)

    return relevant


async def watch_knowledge_base(
    root: Path,
    on_change: Callable[[set[Path]], Awaitable[None]],
    *,
    debounce_ms: int = 800,
    stop_event: asyncio.Event | None = None,
) -> None:
    """Call `on_change` with the changed article files until `stop_event` is set.

    Changes arriving close together (up to `debounce_ms` in all) are delivered in one call,
    so an editor saving several files, or a `git pull`, causes one reload. A failing
    callback is logged and watching goes on: the bot keeps serving what it had.
    """
    logger.info("Watching %s for changes", root)
    async for changes in awatch(
        root,
        watch_filter=_filter_for(root),
        debounce=debounce_ms,
        # A quiet gap of `step` ms ends a batch early; a fraction of the debounce keeps
        # a burst of writes (a checkout) together without delaying a single save long.
        step=max(50, debounce_ms // 4),
        stop_event=stop_event,
        recursive=True,
    ):
        paths = {Path(path) for _, path in changes}
        try:
            await on_change(paths)
        except Exception:
            logger.exception("Knowledge base change handler failed; still watching %s", root)
