"""The dialogue engine: suggest, walk through steps, hand off (channel-free, over ports)."""
