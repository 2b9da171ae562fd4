"""Sending mail over SMTP with the SMTP* options (one-api.md §15), through aiosmtplib."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

import aiosmtplib

from admin_api.option_rules import Options


class MailError(Exception):
    """Mail could not be sent; the message says why."""


def _message(options: Options, to: list[str], subject: str, html: str) -> EmailMessage:
    sender = options.text("SMTPFrom") or options.text("SMTPAccount")
    message = EmailMessage()
    message["From"] = formataddr((options.text("SystemName") or "One API", sender))
    message["To"] = ", ".join(to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    footer = f"<p style='color:#888'>{options.text('SystemName') or 'One API'}</p>"
    message.set_content(f"<html><body>{html}{footer}</body></html>", subtype="html")
    return message


async def send_mail(options: Options, to: str, subject: str, html: str, timeout: float = 30) -> None:
    """Port 465 is implicit TLS; otherwise STARTTLS when offered; login only with an account or token."""
    server = options.text("SMTPServer")
    if not server:
        raise MailError("SMTP 服务器未配置")
    recipients = [r.strip() for r in to.split(";") if r.strip()]
    port = options.integer("SMTPPort", 587)
    account, token = options.text("SMTPAccount"), options.text("SMTPToken")
    try:
        await aiosmtplib.send(_message(options, recipients, subject, html), hostname=server, port=port,
                              username=account or None, password=token or None, use_tls=port == 465,
                              start_tls=None if port != 465 else False, timeout=timeout)
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"发送邮件失败：{exc}") from exc
