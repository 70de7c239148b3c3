"""Local stand-ins for external services (arXiv, Telegram, GitHub, Semantic Scholar) on 127.0.0.1, used by tests and `tracker demo`."""
