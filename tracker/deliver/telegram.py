"""The Telegram Bot API behind one small client (python-telegram-bot's `Bot`, no
Application): every call goes through one retry policy, and no error or log line
ever carries the token (PTB's URLs do, so we scrub).

Policy (tracker.net.retry, shared with every client): `RetryAfter` waits as long as
Telegram asks, up to `telegram.max_retry_wait_seconds` and to the call's deadline
(a longer wait is not slept: the call fails at once naming the flood control, and the
message stays pending for the next run); `BadRequest`, `Forbidden` and `InvalidToken` are final and
name the chat; network errors and timeouts are retried `retries` times with
exponential backoff. Every call has a total deadline (`telegram.deadline_seconds`)
and ends within a tick of a stop request. An answer that is not what the Bot API
promises (`{"ok": false}` with status 200, a `result` of the wrong type) is a
handled failure naming what came back, not a traceback.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
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
from tracker.net.retry import RetryPolicy, Transient, async_interruptible_sleep, over_cap_hint, until_stopped

logger = logging.getLogger("tracker.deliver.telegram")
Sleep = Callable[[float], Awaitable[None]]
UNEXPECTED = (KeyError, AttributeError, TypeError, ValueError, IndexError)
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
Keyboard = Sequence[Sequence[Sequence[str]]]


WHOAMI = "send the bot a message from that chat, then run `tracker bot --whoami` to see its id"

class TelegramRefused(DeliveryError):
    """Telegram refused the request for good (bad request, bot blocked, bad token): not retried.
    `kind` is PTB's name for it: BadRequest is about this message, Forbidden about the chat."""

    def __init__(self, message: str, hint: str | None = None, kind: str = "") -> None:
        super().__init__(message, hint)
        self.kind = kind


class TelegramUnavailable(DeliveryError):
    """Telegram could not be reached (or kept failing) after every retry. `retry_after`: the
    flood-control wait Telegram asked for that the call's deadline or the wait cap left no
    time for (found at once: the other chats can still be tried)."""

    def __init__(self, message: str, hint: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(message, hint)
        self.retry_after = retry_after


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


class _Request(HTTPXRequest):
    """PTB's request that remembers the start of the last answer, so an unexpected one can be named."""

    last_payload: bytes = b""

    async def do_request(self, *args: Any, **kwargs: Any) -> tuple[int, bytes]:
        code, payload = await super().do_request(*args, **kwargs)
        self.last_payload = payload[:200]
        return code, payload


class TelegramClient:
    """`async with TelegramClient(cfg, token) as tg: await tg.send_message(chat, html)`."""

    def __init__(self, cfg: TelegramConfig, token: str, sleep: Sleep | None = None, backoff: float = 1.0,
                 stop: Callable[[], bool] | None = None) -> None:
        register_secret(token)
        guard_library_logs()
        self.cfg, self.stop = cfg, stop
        self.sleep: Sleep = async_interruptible_sleep if sleep is None else sleep
        self.policy = RetryPolicy(retries=cfg.retries, backoff=backoff, max_wait=cfg.max_retry_wait_seconds,
                                  async_sleep=self.sleep)
        timeout = cfg.timeout_seconds
        self._requests: list[_Request] = []

        def request(read: float) -> HTTPXRequest:
            made = _Request(connect_timeout=timeout, read_timeout=read, write_timeout=timeout, pool_timeout=timeout)
            self._requests.append(made)
            return made

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

    def _answer(self) -> str:
        raw = b" | ".join(r.last_payload for r in self._requests if r.last_payload)
        return scrub(raw.decode("utf-8", "replace")) or "nothing"

    async def call(self, method: str, chat_id: int | str | None, make: Callable[[], Awaitable[Any]],
                   deadline: float | None = None) -> Any:
        """Run one API call under the retry policy; errors are DeliveryErrors naming the chat."""
        where = f" to chat {chat_id}" if chat_id is not None else ""
        limit = deadline or self.cfg.deadline_seconds

        async def attempt() -> Any:
            for r in self._requests:
                r.last_payload = b""
            try:
                return await until_stopped(make(), f"Telegram {method}", self.stop)
            except RetryAfter as exc:
                raise Transient("flood control: rate-limited (429)", _seconds(exc)) from None
            except (BadRequest, Forbidden, InvalidToken) as exc:
                kind = type(exc).__name__
                hint = f"check the variable named by telegram.token_env ({self.cfg.token_env})" if kind == "InvalidToken" else None
                said = scrub(exc.message)
                said = said[len(kind) + 1:].strip() if said.lower().startswith(kind.lower() + ":") else said
                raise TelegramRefused(f"Telegram refused {method}{where}: {kind}: {said}", hint, kind) from None
            except (NetworkError, TelegramError) as exc:
                raise Transient(f"{type(exc).__name__}: {scrub(getattr(exc, 'message', str(exc)))}") from None
            except UNEXPECTED as exc:
                raise TelegramUnavailable(
                    f"Telegram {method}{where}: unexpected answer {self._answer()!r} ({type(exc).__name__}: {scrub(str(exc))[:80]})",
                    f"check telegram.api_url ({self.cfg.api_url}) points at the Bot API; nothing is marked delivered",
                ) from None

        def on_retry(exc: Transient, attempt_number: int, wait: float) -> None:
            event = "telegram.flood_wait" if exc.retry_after is not None else "telegram.retry"
            log(logger, logging.WARNING, event, method=method, chat=chat_id, attempt=attempt_number, error=exc.problem,
                seconds=round(wait, 2))

        policy = dataclasses.replace(self.policy, on_retry=on_retry, deadline=time.monotonic() + limit)
        try:
            # the deadline bounds the whole call, retries and their waits included
            return await asyncio.wait_for(policy.acall(attempt), limit)
        except asyncio.TimeoutError:
            raise TelegramUnavailable(f"Telegram {method}{where}: not done within the {limit:g}s deadline, retries included",
                                      "telegram.deadline_seconds bounds each call; nothing is marked delivered, "
                                      "the next run sends what is left") from None
        except Transient as exc:
            if exc.over_cap:
                raise TelegramUnavailable(f"Telegram {method}{where}: {exc.problem}, asked to wait {exc.retry_after:g}s",
                                          over_cap_hint(exc, self.policy.max_wait), exc.retry_after) from None
            if exc.past_deadline and exc.retry_after is not None:
                raise TelegramUnavailable(
                    f"Telegram {method}{where}: {exc.problem}, asked to wait {exc.retry_after:g}s, "
                    f"past the call's {limit:g}s deadline (telegram.deadline_seconds)",
                    f"the next run tries again; a telegram.deadline_seconds over {exc.retry_after:g}s would wait it out",
                    exc.retry_after) from None
            hint = ("Telegram kept rate-limiting the bot: nothing is marked delivered, and the next run sends what is left"
                    if exc.retry_after is not None else f"check telegram.api_url ({self.cfg.api_url}) and the network")
            raise TelegramUnavailable(
                f"Telegram {method}{where} failed after {exc.attempts} attempts: {exc.problem}", hint) from None

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

    async def drop_webhook(self) -> None:
        """Long polling and a webhook exclude each other: clear any webhook, keep pending updates."""
        await self.call("deleteWebhook", None, lambda: self.bot.delete_webhook(drop_pending_updates=False))

    async def confirm(self, offset: int, seconds: float = 5.0) -> None:
        """Confirm handled updates on the way out: one short try, outside the stop-aware
        policy (a shutdown is exactly when it must still go out)."""
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Please use 'Bot.getUpdates'", category=PTBUserWarning)
                await asyncio.wait_for(self.bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": offset, "timeout": 0, "allowed_updates": ["message", "callback_query"]},
                ), seconds)
        except (TelegramError, asyncio.TimeoutError, *UNEXPECTED) as exc:
            log(logger, logging.WARNING, "telegram.confirm_failed", offset=offset, error=scrub(str(exc)),
                hint="the last updates may be handled again after a restart")

    async def get_chat(self, chat_id: int | str) -> dict[str, Any]:
        """The chat as raw JSON (`tracker check`: is each configured chat reachable?)."""

        async def raw() -> Any:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Please use 'Bot.getChat'", category=PTBUserWarning)
                return await self.bot.do_api_request("getChat", api_kwargs={"chat_id": chat_id})

        return await self.call("getChat", chat_id, raw)

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

        updates = await self.call("getUpdates", None, raw, deadline=timeout + self.cfg.deadline_seconds)
        if updates is not None and not isinstance(updates, list):
            raise TelegramUnavailable(f"Telegram getUpdates: unexpected answer {self._answer()!r} (result is not a list)",
                                      f"check telegram.api_url ({self.cfg.api_url}) points at the Bot API")
        return [u for u in updates or [] if isinstance(u, dict) and isinstance(u.get("update_id"), int)]
