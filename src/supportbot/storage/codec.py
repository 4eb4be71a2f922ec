"""Times as the repositories store them in their own columns (ISO text)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def dt(value: datetime | None) -> str | None:
    """A time as ISO text (None stays None)."""
    return value.isoformat() if value is not None else None


def parse_dt(value: Any) -> datetime | None:
    """The inverse of `dt`; anything but text is None."""
    return datetime.fromisoformat(value) if isinstance(value, str) else None
