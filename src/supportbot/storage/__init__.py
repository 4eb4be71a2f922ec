"""Storage adapters: SQLite (aiosqlite) repositories and their in-memory twins."""
