"""Where e-mail goes: the `SMTP_URL` and `SMTP_FROM` settings, and the sending itself.

`smtp://user:pass@host:port` talks plain SMTP (port 25 by default) and upgrades with STARTTLS
only when asked (`?starttls=true`; port 587 by default then); `smtps://` opens TLS at once
(port 465 by default). The user and password are percent-decoded (`%40` for an `@`). Certificates
are verified against the system's trust store. No other query parameter is accepted, so a
misspelt one stops the start rather than being ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import parseaddr
from urllib.parse import parse_qsl, unquote, urlsplit

import aiosmtplib

SEND_TIMEOUT = 10.0  # seconds, for each step of the SMTP conversation
_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    use_tls: bool = False
    start_tls: bool = False

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError("expected smtp://[user:pass@]host[:port][?starttls=true] or smtps://…")
        try:
            port = parts.port
        except ValueError:
            raise ValueError("the port must be a number between 1 and 65535") from None
        if not parts.hostname:
            raise ValueError("the URL names no host")
        if parts.path not in ("", "/") or parts.fragment:
            raise ValueError("an SMTP URL has no path or fragment")
        start_tls = _start_tls(parts.query)
        use_tls = parts.scheme == "smtps"
        if use_tls and start_tls:
            raise ValueError("smtps:// is TLS from the start: starttls does not apply")
        default_port = 465 if use_tls else 587 if start_tls else 25
        return cls(
            host=parts.hostname,
            port=port or default_port,
            username=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
            use_tls=use_tls,
            start_tls=start_tls,
        )


def _start_tls(query: str) -> bool:
    options = dict(parse_qsl(query, keep_blank_values=True))
    unknown = set(options) - {"starttls"}
    if unknown:
        raise ValueError(f"unknown option {sorted(unknown)[0]!r}: only starttls is accepted")
    value = options.get("starttls", "false").lower()
    if value not in _TRUE + _FALSE:
        raise ValueError("starttls must be true or false")
    return value in _TRUE


def parse_sender(text: str) -> str:
    """`SMTP_FROM`: an address, optionally with a display name (`Escrow <no-reply@x.example>`)."""
    _, address = parseaddr(text)
    local, at, domain = address.rpartition("@")
    if not (local and at and "." in domain) or any(c.isspace() for c in address):
        raise ValueError("expected an e-mail address such as Escrow <no-reply@example.com>")
    return text.strip()


async def send_email(target: SmtpTarget, message: EmailMessage) -> None:
    """Hand one message to the SMTP server; raises `aiosmtplib.SMTPException` or `OSError`
    when it is not accepted, for the outbox to try again later."""
    await aiosmtplib.send(
        message,
        hostname=target.host,
        port=target.port,
        username=target.username,
        password=target.password,
        use_tls=target.use_tls,
        start_tls=target.start_tls,
        timeout=SEND_TIMEOUT,
    )
