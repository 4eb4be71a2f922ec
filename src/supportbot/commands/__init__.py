"""Subcommands of the `supportbot` CLI; each module has `register(subparsers)`."""
