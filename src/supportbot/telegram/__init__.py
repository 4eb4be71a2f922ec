"""The Telegram adapter: routers, thin handlers, keyboards, texts (ru/en), rate limiting."""
