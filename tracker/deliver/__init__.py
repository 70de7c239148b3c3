"""Delivery channels: Telegram (python-telegram-bot's Bot, HTML messages cut at 4,096
characters, triage buttons) and SMTP email. Each sits behind one small client whose
base URL or host comes from the config, so tests and the demo use local stand-ins."""
