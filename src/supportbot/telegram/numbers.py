"""Strict parsing of the numbers operators type and buttons carry.

`str.isdigit` accepts superscripts and other scripts' digits that `int()` then refuses, and
an unbounded number overflows SQLite's 64-bit integers: only ASCII digits of a sane length,
inside a range, are numbers here.
"""

from __future__ import annotations

import re

# Telegram's ids fit in 52 bits (chat ids of supergroups are -100 followed by 10-13 digits).
MAX_ID = 2**53 - 1
_INTEGER = re.compile(r"-?[0-9]{1,16}")


def parse_int(text: str, *, low: int = -MAX_ID, high: int = MAX_ID) -> int | None:
    """The integer `text` spells in ASCII digits, when within [low, high]; else None."""
    if not _INTEGER.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_id(text: str) -> int | None:
    """A Telegram user id (positive, at most 52 bits), or None."""
    return parse_int(text, low=1)
