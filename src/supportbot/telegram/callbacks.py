"""Compact callback data for every inline button (always far below Telegram's 64 bytes)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from supportbot.conversation.replies import Act, Action, Press, article_key


class ButtonData(CallbackData, prefix="b"):
    """`b:<act>:<conversation>:<article key>:<step>`, e.g. `b:d:12:3f9a0c1b2d4e:2` (25 bytes).

    Articles are referred to by a 12-hex-digit hash of their id (ids can be long paths);
    the engine resolves it among the articles of that conversation.
    """

    a: str
    c: int
    k: str = ""
    s: int = 0

    @classmethod
    def of(cls, action: Action, conversation: int) -> ButtonData:
        """The callback data of one engine action."""
        key = article_key(action.article_id) if action.article_id else ""
        return cls(a=action.act.value, c=conversation, k=key, s=action.step)

    def press(self) -> Press:
        """Decode into the engine's value; raises ValueError for an unknown action."""
        return Press(act=Act(self.a), conversation=self.c, article_key=self.k, step=self.s)
