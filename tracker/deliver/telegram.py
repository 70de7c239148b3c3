"""The Telegram Bot API behind one small client (python-telegram-bot's `Bot`, no
Application): every call goes through one retry policy, and no error or log line
ever carries the token (PTB's URLs do, so we scrub).

Policy: `RetryAfter` waits as long as Telegram asks; `BadRequest`, `Forbidden` and
`InvalidToken` are final and name the chat; network errors and timeouts are retried
`retries` times with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from typing import Any, Awaitable, Callable, Sequence

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning
from telegram.request import HTTPXRequest

from tracker.config import Config, TelegramConfig
from tracker.errors import ConfigError, DeliveryError
from tracker.logs import log, register_secret, scrub

logger = logging.getLogger("tracker.deliver.telegram")
Sleep = Callable[[float], Awaitable[None]]
MAX_FLOOD_WAITS = 5
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Keyboard = Sequence[Sequence[Sequence[str]]]


class TelegramRefused(DeliveryError):
    """Telegram refused the request for good (bad request, bot blocked, bad token): not retried."""


class TelegramUnavailable(DeliveryError):
    """Telegram could not be reached (or kept failing) after every retry."""


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = scrub(record.getMessage()), ()
        return True


def guard_library_logs() -> None:
    """PTB and httpx log request URLs, which hold the token: scrub them at the source."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.split(".")[0] in ("telegram", "httpx", "httpcore")]
    for name in names + ["telegram", "httpx", "httpcore"]:
        target = logging.getLogger(name)
        if not any(isinstance(f, _ScrubFilter) for f in target.filters):
            target.addFilter(_ScrubFilter())


def bot_token(config: Config) -> str:
    if config.telegram is None:
        raise ConfigError(f"{config.file}: table [telegram] is not configured")
    token = config.secret("telegram.token_env", config.telegram.token_env)
    register_secret(token)
    return token


def markup(keyboard: Keyboard | None) -> InlineKeyboardMarkup | None:
    """[[[label, callback_data], ...], ...] -> PTB's inline keyboard."""
    if not keyboard:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in keyboard])


def _seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PTB 22 warns that retry_after will become a timedelta
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramClient:
    """`async with TelegramClient(cfg, token) as tg: await tg.send_message(chat, html)`."""

    def __init__(self, cfg: TelegramConfig, token: str, sleep: Sleep = asyncio.sleep, backoff: float = 1.0) -> None:
        register_secret(token)
        guard_library_logs()
        self.cfg, self.sleep, self.backoff = cfg, sleep, backoff
        timeout = cfg.timeout_seconds

        def request(read: float) -> HTTPXRequest:
            return HTTPXRequest(connect_timeout=timeout, read_timeout=read, write_timeout=timeout, pool_timeout=timeout)

        self.bot = Bot(
            token,
            base_url=f"{cfg.api_url.rstrip('/')}/bot",
            base_file_url=f"{cfg.api_url.rstrip('/')}/file/bot",
            request=request(timeout),
            get_updates_request=request(timeout + 60),
        )
        guard_library_logs()

    async def __aenter__(self) -> "TelegramClient":
        await self.call("getMe", None, self.bot.initialize)
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.bot.shutdown()
        except TelegramError:
            pass

    async def call(self, method: str, chat_id: int | str | None, make: Callable[[], Awaitable[Any]]) -> Any:
        """Run one API call under the retry policy; errors are DeliveryErrors naming the chat."""
        where = f" to chat {chat_id}" if chat_id is not None else ""
        failures = flood = 0
        while True:
            try:
                return await make()
            except RetryAfter as exc:
                flood += 1
                wait = _seconds(exc)
                log(logger, logging.WARNING, "telegram.flood_wait", method=method, chat=chat_id, seconds=wait)
                if flood > MAX_FLOOD_WAITS:
                    raise TelegramUnavailable(f"Telegram {method}{where}: still rate-limited after {flood} waits") from None
                await self.sleep(wait)
            except (BadRequest, Forbidden, InvalidToken) as exc:
                kind = type(exc).__name__
                hint = f"check the variable named by telegram.token_env ({self.cfg.token_env})" if kind == "InvalidToken" else None
                raise TelegramRefused(f"Telegram refused {method}{where}: {kind}: {scrub(exc.message)}", hint) from None
            except (NetworkError, TelegramError) as exc:
                failures += 1
                message = scrub(getattr(exc, "message", str(exc)))
                log(logger, logging.WARNING, "telegram.retry", method=method, chat=chat_id, attempt=failures, error=message)
                if failures > self.cfg.retries:
                    raise TelegramUnavailable(
                        f"Telegram {method}{where} failed after {failures} attempts: {type(exc).__name__}: {message}",
                        f"check telegram.api_url ({self.cfg.api_url}) and the network",
                    ) from None
                await self.sleep(self.backoff * 2 ** (failures - 1))

    async def send_message(self, chat_id: int | str, text: str, keyboard: Keyboard | None = None) -> int:
        message = await self.call(
            "sendMessage",
            chat_id,
            lambda: self.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup(keyboard), link_preview_options=NO_PREVIEW
            ),
        )
        return int(message.message_id)

    async def edit_message_text(self, chat_id: int | str, message_id: int, text: str, keyboard: Keyboard | None = None) -> None:
        await self.call(
            "editMessageText",
            chat_id,
            lambda: self.bot.edit_message_text(
                text, chat_id=chat_id, message_id=message_id, parse_mode=ParseMode.HTML,
                reply_markup=markup(keyboard), link_preview_options=NO_PREVIEW,
            ),
        )

    async def edit_keyboard(self, chat_id: int | str, message_id: int, keyboard: Keyboard | None) -> None:
        await self.call(
            "editMessageReplyMarkup",
            chat_id,
            lambda: self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id, reply_markup=markup(keyboard)),
        )

    async def answer_callback(self, callback_id: str, text: str, alert: bool = False) -> None:
        await self.call("answerCallbackQuery", None, lambda: self.bot.answer_callback_query(callback_id, text=text, show_alert=alert))

    async def get_updates(self, offset: int | None, timeout: int) -> list[dict[str, Any]]:
        """Raw update dicts: PTB's own parsing would raise on one malformed update and, since
        its offset is then never confirmed, fail the same way after every restart."""

        async def raw() -> Any:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'", category=PTBUserWarning)
                return await self.bot.do_api_request(
                    "getUpdates",
                    api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": ["message", "callback_query"]},
                    read_timeout=timeout + 30,
                )

        updates = await self.call("getUpdates", None, raw)
        return [u for u in updates or [] if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
