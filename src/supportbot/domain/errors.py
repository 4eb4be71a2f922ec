"""The supportbot exception hierarchy: every error a user or an editor may see carries its text."""

from __future__ import annotations


class SupportBotError(Exception):
    """Base of every error supportbot raises on purpose.

    `user_message` is safe to show to the person who caused the error; the error router
    (or the CLI) prints it instead of a traceback.
    """

    def __init__(self, user_message: str) -> None:
        super().__init__(user_message)
        self.user_message = user_message


class ConfigError(SupportBotError):
    """The configuration is missing, unreadable or invalid."""


class KnowledgeBaseError(SupportBotError):
    """The knowledge base cannot be loaded at all (a single broken article is a Problem)."""


class StorageError(SupportBotError):
    """The database cannot be opened or is not a supportbot database."""


class EvalDataError(SupportBotError):
    """An evaluation file is malformed."""


class StaleCallbackError(SupportBotError):
    """A button refers to state that no longer exists."""
