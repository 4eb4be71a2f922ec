"""Domain values, errors and ports: the vocabulary every layer shares (standard library only)."""
