"""Delivering channel notices to root (one-api.md §15): Message Pusher first, email if it is unset or fails.

The notices wait in the `channel_notices` outbox (store.channel_notices); `drain` sends
the due ones. Each is claimed with a conditional UPDATE before it is sent, so it goes
out once even if two nodes drain at the same moment; a failed attempt is retried
later with a growing pause, and a notice nobody can receive is set aside.
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass

import aiohttp

from admin_api.mailer import MailError, send_mail
from admin_api.option_rules import Options, current
from admin_api.state import AdminState
from store import channel_notices, channels, users
from store.channel_notices import ChannelNotice

log = logging.getLogger(__name__)
SUBJECT = "渠道状态变更提醒"
TESTED_SUBJECT = "渠道测试完成"
UNKNOWN_REASON = "代理转发请求时自动禁用（上游返回了表明账户不可用的错误，或成功率低于阈值）"
CLAIM_SECONDS = 120    # a claimed notice is retried after this if its attempt never reported back
MAX_ATTEMPTS = 5       # then it is given up (retries after 1, 2, 4, 8 minutes)
BATCH = 20


class DeliveryError(Exception):
    """This attempt failed, a later one may succeed."""


class Undeliverable(Exception):
    """Nobody can receive notices: neither Message Pusher nor mail to root is configured."""


@dataclass(frozen=True)
class Message:
    """A rendered notice: the subject, one line of plain text and the HTML body."""

    subject: str
    text: str
    html: str


def render(notice: ChannelNotice, channel_name: str) -> Message:
    """The wording root receives for one notice."""
    label = f"渠道「{channel_name}」（#{notice.channel_id}）" if channel_name else f"渠道 #{notice.channel_id}"
    if notice.kind == channel_notices.TESTED:
        text = notice.reason or "渠道测试完成。"
        return Message(TESTED_SUBJECT, text, f"<p>{html.escape(text)}</p>")
    if notice.kind == channel_notices.ENABLED:
        text = f"{label}测试通过，已被重新启用。"
        return Message(SUBJECT, text, f"<p>您好！</p><p>{html.escape(text)}</p>")
    reason = notice.reason or UNKNOWN_REASON
    text = f"{label}已被自动禁用，原因：{reason}"
    body = (f"<p>您好！</p><p>{html.escape(label)}已被自动禁用。</p><p>禁用原因：</p>"
            f"<p style=\"background-color:#f8f8f8;padding:10px;border-radius:5px\">{html.escape(reason)}</p>")
    return Message(SUBJECT, text, body)


async def _push(state: AdminState, options: Options, message: Message) -> None:
    body = {"title": message.subject, "description": message.text, "content": message.html, "url": "",
            "channel": "", "token": options.text("MessagePusherToken")}
    try:
        async with state.client().post(options.text("MessagePusherAddress"), json=body,
                                       timeout=aiohttp.ClientTimeout(total=15)) as answer:
            reply = await answer.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise DeliveryError(str(exc) or type(exc).__name__) from None
    if not isinstance(reply, dict) or reply.get("success") is not True:
        problem = reply.get("message") if isinstance(reply, dict) else None
        raise DeliveryError(str(problem or f"status {answer.status}"))


async def _root_email(state: AdminState) -> str:
    async with state.db.session() as s:
        root = await users.first_root(s)
    return (root.email or "") if root is not None else ""


async def deliver(state: AdminState, options: Options, message: Message) -> str:
    """Send one message; return how ("message-pusher" or "email")."""
    problems = []
    if options.text("MessagePusherAddress"):
        try:
            await _push(state, options, message)
            return "message-pusher"
        except DeliveryError as exc:
            problems.append(f"message pusher: {exc}")
    email = await _root_email(state)
    if not options.text("SMTPServer") or not email:
        why = "SMTP 服务器未配置" if not options.text("SMTPServer") else "root 用户未设置邮箱"
        if problems:   # the pusher is configured but failed: worth another try
            raise DeliveryError("; ".join([*problems, why]))
        raise Undeliverable(why)
    try:
        await send_mail(options, email, message.subject, message.html)
    except MailError as exc:
        raise DeliveryError("; ".join([*problems, str(exc)])) from None
    return "email"


async def pending(state: AdminState) -> bool:
    """Whether any notice is due (the drain job's cheap check before it takes its lease)."""
    async with state.db.session() as s:
        return bool(await channel_notices.due(s, limit=1))


async def _channel_name(state: AdminState, channel_id: int) -> str:
    if not channel_id:
        return ""
    async with state.db.session() as s:
        channel = await channels.get(s, channel_id)
    return (channel.name or "") if channel is not None else ""


async def _send_one(state: AdminState, options: Options, notice: ChannelNotice) -> None:
    now = int(time.time())
    async with state.db.session() as s:
        if not await channel_notices.claim(s, notice.id, notice.attempts, now + CLAIM_SECONDS):
            return   # another drainer has it
    message = render(notice, await _channel_name(state, notice.channel_id))
    try:
        outcome = await deliver(state, options, message)
    except Undeliverable as exc:
        outcome = f"undeliverable: {exc}"
    except DeliveryError as exc:
        attempts = notice.attempts + 1
        async with state.db.session() as s:
            if attempts >= MAX_ATTEMPTS:
                await channel_notices.finish(s, notice.id, f"gave up: {exc}")
            else:
                await channel_notices.postpone(s, notice.id, now + 60 * 2 ** (attempts - 1), f"failed: {exc}")
        log.warning("channel notice #%d not delivered (attempt %d): %s", notice.id, attempts, exc)
        return
    async with state.db.session() as s:
        await channel_notices.finish(s, notice.id, outcome)
    log.info("channel notice #%d: %s", notice.id, outcome)


async def drain(state: AdminState) -> None:
    """Send every due notice, oldest first, then forget notices delivered long ago."""
    options = await current(state.db)
    while True:
        async with state.db.session() as s:
            batch = await channel_notices.due(s, limit=BATCH)
        for notice in batch:
            await _send_one(state, options, notice)
        if len(batch) < BATCH:
            break
    async with state.db.session() as s:
        await channel_notices.prune(s)
