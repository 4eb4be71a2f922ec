"""supportbot: a Telegram support bot with a dynamic FAQ suggester."""

__version__ = "0.1.0"
