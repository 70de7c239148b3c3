"""`tracker bot`: the long-polling Telegram bot that takes triage decisions.

A small getUpdates loop of our own rather than PTB's Application: we need four
methods, no job queue or persistence, and the loop stays trivially stoppable in
tests. All the logic is `handle_update(update_dict, ctx) -> [Action]`, a plain
function of one update (as the Bot API sends it) that records decisions in the store
and returns the API calls to make; the loop only fetches and performs.

Who may act: a chat listed in telegram.chat_ids, and (when telegram.allowed_user_ids
is not empty) a user listed there. Anyone else gets a refusal; nothing is recorded.
"""

from __future__ import annotations

import asyncio
import html
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Awaitable, Callable, Mapping

from tracker.config import Config, TelegramConfig
from tracker.errors import DeliveryError, StoreError
from tracker.net.retry import Interrupted
from tracker.logs import log
from tracker.models import display_safe
from tracker.deliver import triage
from tracker.deliver.telegram import TelegramClient, TelegramRefused, TelegramUnavailable, bot_token
from tracker.deliver.telegram_html import LIMIT, compose, truncate_html
from tracker.store import Database, browse, status
from tracker.store import deliveries as outbox
from tracker.store.decisions import latest_decisions, record_decision
from tracker.store.papers import get_paper
from tracker.timeutil import iso, utcnow

logger = logging.getLogger("tracker.deliver.bot")
REFUSAL = "Sorry, you are not allowed to triage for this list."
HELP = (
    "<b>tracker bot</b>\n/latest: the newest classified papers\n/search words: full-text search\n"
    "/section id: the newest papers of a section\n/status: counts and delivery backlog"
)
LIST_SIZE = 10
VERB = {"accept": "Accepted", "reject": "Rejected", "move": "Moved"}


@dataclass(frozen=True)
class Action:
    """One Bot API call to make: sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery."""

    method: str
    params: dict[str, Any]


@dataclass
class BotContext:
    config: Config
    db: Database
    now: Callable[[], datetime] = field(default=utcnow)

    @property
    def telegram(self) -> TelegramConfig:
        assert self.config.telegram is not None
        return self.config.telegram


def allowed(cfg: TelegramConfig, chat_id: Any, user_id: Any) -> bool:
    if chat_id not in cfg.chat_ids:
        return False
    return not cfg.allowed_user_ids or user_id in cfg.allowed_user_ids


def handle_update(update: Mapping[str, Any], ctx: BotContext) -> list[Action]:
    """Everything the bot does for one update, without touching the network."""
    if "callback_query" in update:
        return _callback(update["callback_query"], ctx)
    message = update.get("message")
    if message and str(message.get("text") or "").startswith("/"):
        return _command(message, ctx)
    return []


def _answer(query: Mapping[str, Any], text: str, alert: bool = False) -> Action:
    return Action("answerCallbackQuery", {"callback_query_id": query["id"], "text": text, "alert": alert})


def _callback(query: Mapping[str, Any], ctx: BotContext) -> list[Action]:
    message = query.get("message") or {}
    chat_id = (message.get("chat") or {}).get("id")
    user_id = (query.get("from") or {}).get("id")
    message_id = message.get("message_id")
    if not allowed(ctx.telegram, chat_id, user_id):
        log(logger, logging.WARNING, "bot.refused", chat=chat_id, user=user_id, data=query.get("data"))
        return [_answer(query, REFUSAL, alert=True)]
    press = triage.decode(str(query.get("data") or ""), ctx.config.sections)
    if press is None:
        return [_answer(query, "This button is not one of mine.")]
    if get_paper(ctx.db, press.paper_id) is None:
        return [_answer(query, f"Paper {press.paper_id} is not in the store.", alert=True)]
    where = {"chat_id": chat_id, "message_id": message_id}
    if press.action == "menu":
        keyboard = triage.section_keyboard(press.paper_id, ctx.config.sections)
        return [Action("editMessageReplyMarkup", {**where, "keyboard": keyboard}), _answer(query, "Move to which section?")]
    row = outbox.find_message(ctx.db, "telegram", str(chat_id), str(message_id))
    if press.action == "close":
        actions = [_answer(query, "Back")]
        if row is not None:
            keyboard = triage.entry_keyboard(triage.parts_from_payload(row.payload.get("parts", [])), _chosen(ctx, row))
            actions.insert(0, Action("editMessageReplyMarkup", {**where, "keyboard": keyboard}))
        return actions
    if press.action == "move" and ctx.config.section(press.section or "") is None:
        return [_answer(query, f"Unknown section {press.section}.", alert=True)]
    try:
        record_decision(
            ctx.db, press.paper_id, press.action, press.section if press.action == "move" else None,
            decided_by=str(user_id), via="telegram", at=iso(ctx.now()),
        )
    except StoreError as exc:
        return [_answer(query, str(exc), alert=True)]
    log(logger, logging.INFO, "bot.decision", paper=press.paper_id, decision=press.action, section=press.section, user=user_id)
    answer = f"{VERB[press.action]} {press.paper_id}" + (f" → {press.section}" if press.action == "move" else "")
    if row is None:
        return [_answer(query, answer)]
    parts = triage.parts_from_payload(row.payload.get("parts", []))
    decided = latest_decisions(ctx.db)
    status = {
        p.paper_id: triage.status_line(decided[p.paper_id].decision, decided[p.paper_id].section)
        for p in parts
        if p.paper_id and p.paper_id in decided
    }
    text = compose(parts, status)
    keyboard = triage.entry_keyboard(parts, {pid: decided[pid].decision for pid in status})
    return [Action("editMessageText", {**where, "text": truncate_html(text, LIMIT), "keyboard": keyboard}), _answer(query, answer)]


def _chosen(ctx: BotContext, row: outbox.OutboxRow) -> dict[str, str]:
    decided = latest_decisions(ctx.db)
    return {pid: decided[pid].decision for pid in row.paper_ids if pid in decided}


def whoami_text(message: Mapping[str, Any], cfg: TelegramConfig | None) -> str:
    """The ids a maintainer pastes into the config, for the chat and user of `message`."""
    chat = message.get("chat") or {}
    user = message.get("from") or {}
    lines = [f"chat id: <code>{html.escape(str(chat.get('id')))}</code> ({html.escape(str(chat.get('type', '?')))})",
             f"your user id: <code>{html.escape(str(user.get('id')))}</code>",
             f"In tracker.toml: [telegram] chat_ids = [{html.escape(str(chat.get('id')))}], "
             f"allowed_user_ids = [{html.escape(str(user.get('id')))}]"]
    if cfg is not None and chat.get("id") not in cfg.chat_ids:
        lines.append("This chat is not in telegram.chat_ids yet: the digest does not come here.")
    return "\n".join(lines)


def _command(message: Mapping[str, Any], ctx: BotContext) -> list[Action]:
    chat_id = (message.get("chat") or {}).get("id")
    user_id = (message.get("from") or {}).get("id")
    word, _, rest = str(message["text"]).strip().partition(" ")
    name = word[1:].split("@")[0].lower()
    if name in ("start", "whoami") and chat_id is not None:  # anyone may learn their own ids
        return [Action("sendMessage", {"chat_id": chat_id, "text": whoami_text(message, ctx.telegram)})]
    if not allowed(ctx.telegram, chat_id, user_id):
        log(logger, logging.WARNING, "bot.refused", chat=chat_id, user=user_id, command=name)
        return [Action("sendMessage", {"chat_id": chat_id, "text": REFUSAL})] if chat_id is not None else []
    reply = {
        "latest": lambda: _latest(ctx),
        "search": lambda: _search(ctx, rest),
        "section": lambda: _section(ctx, rest.strip()),
        "status": lambda: _status(ctx),
    }.get(name, lambda: HELP)()
    return [Action("sendMessage", {"chat_id": chat_id, "text": truncate_html(reply, LIMIT)})]


def _lines(ctx: BotContext, rows: list[dict[str, Any]], title: str) -> str:
    if not rows:
        return f"<b>{html.escape(title)}</b>\nnothing found."
    decided = latest_decisions(ctx.db)
    marks = {"accept": " ✅", "reject": " ❌", "move": " ↪"}
    out = [f"<b>{html.escape(title)}</b>"]
    for r in rows:
        d = decided.get(r["id"])
        section = f" · {html.escape(r['section'])}" if r.get("section") else ""
        out.append(
            f'• <a href="https://arxiv.org/abs/{html.escape(r["id"])}">{html.escape(" ".join(display_safe(r["title"]).split()))}</a>'
            f"{section}{marks.get(d.decision, '') if d else ''}"
        )
    return "\n".join(out)


def _latest(ctx: BotContext) -> str:
    return _lines(ctx, browse.latest_classified(ctx.db, LIST_SIZE), "Latest papers")


def _search(ctx: BotContext, words: str) -> str:
    terms = [w for w in words.split() if w.strip('"')]
    if not terms:
        return "Usage: /search words…"
    return _lines(ctx, browse.search_papers(ctx.db, terms, LIST_SIZE), f"Search: {' '.join(terms)}")


def _section(ctx: BotContext, section_id: str) -> str:
    if ctx.config.section(section_id) is None:
        valid = ", ".join(s.id for s in ctx.config.sections)
        return f"Unknown section {html.escape(section_id or '(none)')}. Sections: {html.escape(valid)}"
    return _lines(ctx, browse.newest_in_section(ctx.db, section_id, LIST_SIZE), f"Section {section_id}")


def _status(ctx: BotContext) -> str:
    t = status.totals(ctx.db)
    lines = [f"<b>Status</b>\npapers: {t['papers']}\nclassified: {t['classified']}\n"
             f"accepted: {t['accepted']} · rejected: {t['rejected']}"]
    for channel, counts in sorted(outbox.backlog(ctx.db).items()):
        lines.append(
            f"{html.escape(channel)}: {counts['delivered_papers']} delivered, {counts['queued_papers']} queued, "
            f"{counts['pending_messages']} messages pending"
        )
    return "\n".join(lines)


async def perform(client: TelegramClient, action: Action) -> None:
    p = action.params
    if action.method == "sendMessage":
        await client.send_message(p["chat_id"], p["text"], p.get("keyboard"))
    elif action.method == "editMessageText":
        await client.edit_message_text(p["chat_id"], p["message_id"], p["text"], p.get("keyboard"))
    elif action.method == "editMessageReplyMarkup":
        await client.edit_keyboard(p["chat_id"], p["message_id"], p.get("keyboard"))
    elif action.method == "answerCallbackQuery":
        await client.answer_callback(p["callback_query_id"], p["text"], p.get("alert", False))
    else:
        raise ValueError(f"unknown action {action.method}")


async def poll_loop(
    ctx: BotContext,
    client: TelegramClient,
    stop: Callable[[], bool] = lambda: False,
    max_updates: int | None = None,
    poll_timeout: int = 25,
) -> int:
    """getUpdates until `stop()` or `max_updates` handled; confirms each update by
    moving the offset past it. Returns the number of updates handled: never more than
    `max_updates`, the rest of a batch stays unconfirmed for the next run."""
    offset: int | None = None
    handled = failures = 0
    while not stop() and (max_updates is None or handled < max_updates):
        try:
            updates = await client.get_updates(offset, poll_timeout)
            failures = 0
        except TelegramRefused:
            raise
        except Interrupted:
            break
        except DeliveryError as exc:
            failures += 1
            log(logger, logging.WARNING, "bot.poll_failed", error=str(exc), attempt=failures)
            try:
                asked = exc.retry_after if isinstance(exc, TelegramUnavailable) else None  # a flood wait the call had no time for
                await client.sleep(client.policy.delay(failures, asked))
            except Interrupted:
                break
            continue
        for update in updates[: None if max_updates is None else max_updates - handled]:
            offset = int(update["update_id"]) + 1
            try:
                actions = handle_update(update, ctx)
            except Exception:  # one malformed update must not stop the bot; its offset is already passed
                logger.exception("bot.bad_update", extra={"fields": {"update_id": update["update_id"]}})
                handled += 1
                continue
            for action in actions:
                try:
                    await perform(client, action)
                except DeliveryError as exc:
                    log(logger, logging.WARNING, "bot.action_failed", method=action.method, error=str(exc))
            handled += 1
    if offset is not None:
        await client.confirm(offset)
    return handled


def run_bot(
    config: Config,
    db: Database,
    stop: Callable[[], bool] = lambda: False,
    max_updates: int | None = None,
    poll_timeout: int = 25,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> int:
    """Run the bot until stopped (Ctrl-C, SIGTERM) or `max_updates` updates are handled;
    `sleep` replaces the retry waits in tests."""
    assert config.telegram is not None
    token = bot_token(config)

    async def main() -> int:
        async with TelegramClient(config.telegram, token, sleep=sleep, stop=stop) as client:  # type: ignore[arg-type]
            await client.drop_webhook()
            log(logger, logging.INFO, "bot.started", chats=len(config.telegram.chat_ids))  # type: ignore[union-attr]
            return await poll_loop(BotContext(config, db), client, stop, max_updates, poll_timeout)

    return asyncio.run(main())


def whoami(config: Config, wait_seconds: float, poll_timeout: int = 25) -> list[dict[str, Any]]:
    """`tracker bot --whoami`: wait up to `wait_seconds` for messages to the bot (from any
    chat), answer each with its chat and user id, and return them. Works before
    telegram.chat_ids is filled in: that is what it is for."""
    assert config.telegram is not None
    token = bot_token(config)
    seen: list[dict[str, Any]] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        until = loop.time() + wait_seconds
        async with TelegramClient(config.telegram, token) as client:  # type: ignore[arg-type]
            await client.drop_webhook()
            offset: int | None = None
            while not seen and loop.time() < until:
                timeout = max(0, min(poll_timeout, int(until - loop.time())))
                for update in await client.get_updates(offset, timeout):
                    offset = int(update["update_id"]) + 1
                    message = update.get("message") or (update.get("callback_query") or {}).get("message")
                    sender = update.get("message", {}).get("from") or (update.get("callback_query") or {}).get("from")
                    if not message or not (message.get("chat") or {}).get("id"):
                        continue
                    message = {**message, "from": sender or {}}
                    chat, user = message["chat"], message["from"]
                    seen.append({"chat_id": chat.get("id"), "chat_type": chat.get("type"),
                                 "chat_title": chat.get("title") or chat.get("username") or chat.get("first_name"),
                                 "user_id": user.get("id"), "username": user.get("username")})
                    await perform(client, Action("sendMessage", {"chat_id": chat["id"],
                                                                  "text": whoami_text(message, config.telegram)}))
                if not timeout:
                    break
            if offset is not None:
                await client.confirm(offset)

    asyncio.run(main())
    return seen
