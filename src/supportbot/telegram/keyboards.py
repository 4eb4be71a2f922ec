"""Inline keyboards for the engine's actions, labelled in the user's language."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from supportbot.conversation.replies import Act, Action
from supportbot.domain.models import Lang
from supportbot.telegram.callbacks import ButtonData
from supportbot.telegram.texts import Texts

_LABELS = {
    Act.HELPED: "helped",
    Act.NOT_HELPED: "not_helped",
    Act.PERSON: "person",
    Act.NONE_OF_THESE: "none_of_these",
    Act.GUIDE: "guide",
    Act.STEP_DONE: "step_done",
    Act.STEP_FAILED: "step_failed",
    Act.RESUME: "resume",
    Act.SOLVED_YES: "solved_yes",
    Act.SOLVED_NO: "solved_no",
    Act.WAIT_SOLVED: "wait_solved",
    Act.KEEP_WAITING: "keep_waiting",
}
# Buttons that share a row; every other button gets a row of its own.
_PAIRS = (
    {Act.HELPED, Act.NOT_HELPED},
    {Act.STEP_DONE, Act.STEP_FAILED},
    {Act.SOLVED_YES, Act.SOLVED_NO},
    {Act.WAIT_SOLVED, Act.KEEP_WAITING},
)
_MAX_LABEL = 60  # long article titles are cut so buttons stay readable on a phone


def _label(action: Action, lang: Lang, texts: Texts) -> str:
    if action.act is Act.OPEN:
        title = action.label or action.article_id
        return title if len(title) <= _MAX_LABEL else title[: _MAX_LABEL - 1] + "…"
    return texts.button(lang, _LABELS[action.act])


def keyboard(
    actions: Sequence[Action], conversation: int, lang: Lang, texts: Texts
) -> InlineKeyboardMarkup | None:
    """The keyboard for a message's actions (None when it has none)."""
    if not actions:
        return None
    kb = InlineKeyboardBuilder()
    previous: Act | None = None
    for action in actions:
        button = InlineKeyboardButton(
            text=_label(action, lang, texts),
            callback_data=ButtonData.of(action, conversation).pack(),
        )
        if previous is not None and {previous, action.act} in _PAIRS:
            kb.add(button)  # beside its pair
        else:
            kb.row(button)
        previous = action.act
    return InlineKeyboardMarkup(inline_keyboard=kb.export())
