"""`python -m supportbot`: the same as the `supportbot` console script."""

from supportbot.cli import main

raise SystemExit(main())
