"""Compact callback data for every inline button (always far below Telegram's 64 bytes)."""

from __future__ import annotations

import enum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import Field

from supportbot.conversation.replies import Act, Action, Press, article_key

# Ids and counters in callback data: a forged huge number is refused when the data is read
# (the press is then stale), never passed on to overflow SQLite's 64-bit integers.
Id = Annotated[int, Field(ge=0, le=2**53 - 1)]


class ButtonData(CallbackData, prefix="b"):
    """`b:<act>:<conversation>:<article key>:<step>`, e.g. `b:d:12:3f9a0c1b2d4e:2` (25 bytes).

    Articles are referred to by a 12-hex-digit hash of their id (ids can be long paths);
    the engine resolves it among the articles of that conversation.
    """

    a: str
    c: Id
    k: str = ""
    s: Id = 0

    @classmethod
    def of(cls, action: Action, conversation: int) -> ButtonData:
        """The callback data of one engine action."""
        key = article_key(action.article_id) if action.article_id else ""
        return cls(a=action.act.value, c=conversation, k=key, s=action.step)

    def press(self) -> Press:
        """Decode into the engine's value; raises ValueError for an unknown action."""
        return Press(act=Act(self.a), conversation=self.c, article_key=self.k, step=self.s)


class StaffAction(enum.StrEnum):
    """What a staff button does (short codes: callback data has 64 bytes at most)."""

    TAKE = "tk"
    CLOSE = "cl"  # the category picker (or close at once without a taxonomy)
    BACK = "bk"  # back to the card's own buttons
    CATEGORY = "ca"  # value: the category's index
    SUBCATEGORY = "cs"  # value: "<category index>.<subcategory index>"
    NO_CATEGORY = "cn"
    TRANSFER = "tr"  # the colleague picker
    TRANSFER_TO = "tt"  # value: the operator's id, or "q" for the queue
    ARTICLE = "ar"  # value: short_key of the article id
    CANNED = "cr"  # value: short_key of the canned reply id


class DeskData(CallbackData, prefix="k"):
    """Staff buttons: `k:<action>:<ticket>:<value>` (far below 64 bytes)."""

    action: StaffAction
    ticket: Id
    value: str = ""


class UserAction(enum.StrEnum):
    """What a user's desk button does."""

    SOLVED = "s"  # "My problem is solved"
    FCR = "f"  # "Was it solved?" value: 1 yes, 0 no
    RATE = "r"  # value: 1..5


class UserDeskData(CallbackData, prefix="u"):
    """The user's desk buttons: `u:<action>:<ticket>:<value>`."""

    action: UserAction
    ticket: Id
    value: Annotated[int, Field(ge=0, le=5)] = 0
