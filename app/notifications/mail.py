"""A notification as an e-mail: plain text, and HTML escaped from the same text.

Titles and bodies hold what people wrote (contract and milestone titles, reasons), so the HTML
part escapes every one of them; paragraphs are the body's blank-line-separated blocks.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr
from html import escape

from app.domain.notifications import Notice

FOOTER = "You receive this because of your notification settings; change them there."


def paragraphs(text: str) -> list[str]:
    return [block.strip() for block in text.split("\n\n") if block.strip()]


def html_body(notice: Notice) -> str:
    blocks = "".join(
        f"<p>{escape(block).replace(chr(10), '<br>')}</p>\n"
        for block in [*paragraphs(notice.body), FOOTER]
    )
    title = escape(notice.title)
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n{blocks}</body></html>\n"
    )


def email_message(notice: Notice, *, sender: str, to: str, key: str) -> EmailMessage:
    """`key` names the outbox row: a retry sends the same Message-ID, so a receiver that got
    the first try can tell."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message = EmailMessage()
    message["Subject"] = notice.title
    message["From"] = sender
    message["To"] = to
    message["Message-ID"] = f"<{key}@{domain}>"
    message.set_content(f"{notice.body}\n\n-- \n{FOOTER}\n")
    message.add_alternative(html_body(notice), subtype="html")
    return message
