"""Why the desk refuses an action: the codes, and the error that carries the text."""

from __future__ import annotations

from collections.abc import Mapping

from supportbot.domain.errors import SupportBotError

# Why an action was refused; the adapter passes the texts (staff language).
REFUSALS = (
    "not_found",
    "closed",
    "already_yours",
    "taken",
    "at_capacity",
    "target_at_capacity",
    "not_assigned",
    "category_required",
    "unknown_category",
    "unknown_item",
    "changed",
)


class DeskRefusal(SupportBotError):
    """An action the desk refuses; `user_message` is the notice for the one who tried."""

    def __init__(self, code: str, user_message: str) -> None:
        super().__init__(user_message)
        self.code = code


class Refusals:
    """Makes `DeskRefusal`s with the configured texts (the code itself when none is given)."""

    def __init__(self, texts: Mapping[str, str] | None = None) -> None:
        self._texts = dict(texts or {})

    def __call__(self, code: str, **params: object) -> DeskRefusal:
        """The refusal for `code`, its text filled with `params`."""
        template = self._texts.get(code, code.replace("_", " "))
        return DeskRefusal(code, template.format(**params))
