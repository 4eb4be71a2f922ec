"""The knowledge base: markdown articles with front matter, canned replies, watching."""
