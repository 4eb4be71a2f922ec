"""Find and read knowledge base files without trusting them.

Nothing outside the knowledge base is ever read: a symlink that leaves it is reported and
skipped, and folders are never entered through symlinks. A file is measured before it is
read and never read past the size limit, so a 50 MB file costs nothing; binary and
non-UTF-8 files are reported as such.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from supportbot.domain.models import Problem
from supportbot.knowledge.problems import problem

# An article is a few kilobytes; 200 kB is a long manual. Beyond it a file is refused.
MAX_FILE_BYTES = 200 * 1024


@dataclass(frozen=True, slots=True)
class FileText:
    """A file's text (None when it cannot be used), a fingerprint, and why not."""

    text: str | None
    fingerprint: str
    problem: Problem | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A path under the knowledge base: its real location, or the problem with it."""

    path: Path
    rel: PurePosixPath
    problem: Problem | None = None


def _outside(path: Path, root: Path, rel: str, what: str) -> Problem | None:
    """A problem when the symlink `path` leads out of `root` (the resolved root)."""
    try:
        target = path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        return problem(rel, 1, "symlink-outside", f"this {what} is a broken or looping link")
    if target.is_relative_to(root):
        return None
    return problem(
        rel,
        1,
        "symlink-outside",
        f"this {what} is a link to {target}, outside the knowledge base: it is never "
        f"read or served; copy the {what} into the knowledge base instead",
    )


def walk(root: Path) -> list[Found]:
    """Every file under `root` (resolved), in path order, symlinks checked, none followed out.

    A symlinked folder is not entered: one that leads out is reported, one that stays in
    is read from where it really is.
    """
    return sorted(_walk(root.resolve()), key=lambda found: found.rel.parts)


def _walk(real_root: Path) -> Iterator[Found]:
    for folder, dirs, files in os.walk(real_root):
        base = Path(folder)
        # Hidden and "_" folders are never read (drafts, .git): not entering them keeps a
        # big repository history out of every reload.
        dirs[:] = sorted(name for name in dirs if not name.startswith((".", "_")))
        entries: list[tuple[str, bool]] = [(name, False) for name in files]
        for name in list(dirs):
            if (base / name).is_symlink():
                dirs.remove(name)
                entries.append((name, True))
        for name, is_dir in sorted(entries):
            path = base / name
            rel = PurePosixPath(path.relative_to(real_root).as_posix())
            if is_dir:
                found = _outside(path, real_root, rel.as_posix(), "folder")
                if found is not None:
                    yield Found(path, rel, found)
                continue
            if path.is_symlink():
                found = _outside(path, real_root, rel.as_posix(), "file")
                yield Found(path.resolve() if found is None else path, rel, found)
            else:
                yield Found(path, rel)


def read_text(path: Path, rel: str, max_bytes: int = MAX_FILE_BYTES) -> FileText:
    """The UTF-8 text of a regular file of at most `max_bytes`, or the problem with it."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            return FileText(
                None, "", problem(rel, 1, "not-a-file", "this is not a regular file: remove it")
            )
        if info.st_size > max_bytes:
            fingerprint = f"size:{info.st_size}:{info.st_mtime_ns}"
            return FileText(None, fingerprint, _too_large(rel, info.st_size, max_bytes))
        # O_NONBLOCK: a file swapped for a pipe after the check must not block the read.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as file:
            raw = file.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        return FileText(None, "", problem(rel, 1, "unreadable", f"cannot read: {reason}"))
    if len(raw) > max_bytes:
        return FileText(None, f"size:{len(raw)}", _too_large(rel, len(raw), max_bytes))
    digest = hashlib.sha256(raw).hexdigest()
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return FileText(
            None,
            digest,
            problem(
                rel,
                line,
                "binary",
                "the file holds binary data (a NUL byte), not text: save the article as "
                "plain UTF-8 text, or move this file out of the knowledge base",
            ),
        )
    try:
        return FileText(raw.decode("utf-8-sig"), digest)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return FileText(
            None,
            digest,
            problem(
                rel,
                line,
                "not-utf8",
                f"the file is not UTF-8 text (bad byte 0x{raw[exc.start]:02x}): save it as "
                "UTF-8 in your editor",
            ),
        )


def _too_large(rel: str, size: int, max_bytes: int) -> Problem:
    return problem(
        rel,
        1,
        "too-large",
        f"the file is {_size(size)}, over the {_size(max_bytes)} limit for one article: "
        "it is not read; split it into articles of one question each",
    )


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):.1f} MB"
    return f"{count / 1024:.0f} kB"
