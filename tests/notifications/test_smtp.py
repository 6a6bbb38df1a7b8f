"""`SMTP_URL` and `SMTP_FROM`, and e-mail handed to a real SMTP server (aiosmtpd) by aiosmtplib."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from app.domain.notifications import Notice, NotificationType
from app.notifications.mail import email_message
from app.notifications.smtp import SmtpTarget, parse_sender, send_email

NOTICE = Notice(1, NotificationType.MILESTONE_RELEASED, "Payment released: “Logo”", "25.00 USD.")
SENDER = "Escrow <no-reply@escrow.example>"


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example", SmtpTarget("mail.example", 25)),
        ("smtp://127.0.0.1:2525/", SmtpTarget("127.0.0.1", 2525)),
        (
            "smtp://ann%40x.example:p%3Ass@mail.example:587?starttls=true",
            SmtpTarget("mail.example", 587, "ann@x.example", "p:ss", start_tls=True),
        ),
        ("smtp://mail.example?starttls=true", SmtpTarget("mail.example", 587, start_tls=True)),
        ("smtp://mail.example?starttls=false", SmtpTarget("mail.example", 25)),
        ("smtps://u:p@mail.example", SmtpTarget("mail.example", 465, "u", "p", use_tls=True)),
    ],
)
def test_an_smtp_url_says_where_and_how_to_send(url: str, target: SmtpTarget) -> None:
    assert SmtpTarget.parse(url) == target


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://mail.example", "expected smtp://"),
        ("smtp://", "names no host"),
        ("smtp://mail.example:99999", "port must be a number"),
        ("smtp://mail.example/inbox", "no path"),
        ("smtp://mail.example?starttls=maybe", "starttls must be true or false"),
        ("smtp://mail.example?tls=true", "unknown option 'tls'"),
        ("smtps://mail.example?starttls=true", "starttls does not apply"),
    ],
)
def test_a_bad_smtp_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        SmtpTarget.parse(url)


def test_the_password_is_not_shown_with_the_target() -> None:
    assert "secret" not in repr(SmtpTarget.parse("smtp://u:secret@mail.example"))


@pytest.mark.parametrize("sender", ["no-reply@escrow.example", SENDER])
def test_a_sender_is_an_address_with_an_optional_name(sender: str) -> None:
    assert parse_sender(f" {sender} ") == sender


@pytest.mark.parametrize("sender", ["", "escrow", "Escrow <no-reply>", "a b@escrow.example"])
def test_a_sender_that_is_no_address_is_refused(sender: str) -> None:
    with pytest.raises(ValueError, match="expected an e-mail address"):
        parse_sender(sender)


class Inbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        found = []
        for envelope in self.envelopes:
            assert isinstance(envelope.content, bytes)
            parsed = message_from_bytes(envelope.content, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            found.append(parsed)
        return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def only_ann(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"ann", b"p@ss")
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def trusted(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    """The server's TLS context; the client trusts its certificate as a system one."""
    cert, key = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def running(inbox: Inbox, **options: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


async def test_an_email_reaches_the_smtp_server_with_both_parts() -> None:
    inbox = Inbox()
    for port in running(inbox):
        message = email_message(NOTICE, sender=SENDER, to="ann@example.com", key="n-1")
        await send_email(SmtpTarget.parse(f"smtp://127.0.0.1:{port}"), message)

    [envelope] = inbox.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == (
        "no-reply@escrow.example",
        ["ann@example.com"],
    )
    [received] = inbox.messages()
    assert received["Subject"] == NOTICE.title
    assert [part.get_content_type() for part in received.iter_parts()] == [
        "text/plain",
        "text/html",
    ]


async def test_the_user_and_password_of_the_url_log_in() -> None:
    inbox = Inbox()
    options = {"authenticator": only_ann, "auth_require_tls": False}
    for port in running(inbox, **options):
        message = email_message(NOTICE, sender=SENDER, to="ann@example.com", key="n-2")
        with pytest.raises(aiosmtplib.SMTPAuthenticationError):
            await send_email(SmtpTarget.parse(f"smtp://ann:wrong@127.0.0.1:{port}"), message)
        await send_email(SmtpTarget.parse(f"smtp://ann:p%40ss@127.0.0.1:{port}"), message)

    assert len(inbox.envelopes) == 1


async def test_starttls_upgrades_the_connection_when_asked(trusted: ssl.SSLContext) -> None:
    inbox = Inbox()
    for port in running(inbox, tls_context=trusted, require_starttls=True):
        message = email_message(NOTICE, sender=SENDER, to="ann@example.com", key="n-3")
        with pytest.raises(aiosmtplib.SMTPResponseException, match="STARTTLS"):
            await send_email(SmtpTarget.parse(f"smtp://127.0.0.1:{port}"), message)
        await send_email(SmtpTarget.parse(f"smtp://127.0.0.1:{port}?starttls=true"), message)

    assert len(inbox.envelopes) == 1


async def test_smtps_speaks_tls_from_the_start(trusted: ssl.SSLContext) -> None:
    inbox = Inbox()
    for port in running(inbox, ssl_context=trusted):
        message = email_message(NOTICE, sender=SENDER, to="ann@example.com", key="n-4")
        await send_email(SmtpTarget.parse(f"smtps://127.0.0.1:{port}"), message)

    assert len(inbox.envelopes) == 1


async def test_a_server_that_is_not_there_raises_for_the_outbox_to_retry() -> None:
    message = email_message(NOTICE, sender=SENDER, to="ann@example.com", key="n-5")

    with pytest.raises((aiosmtplib.SMTPException, OSError)):
        await send_email(SmtpTarget.parse(f"smtp://127.0.0.1:{free_port()}"), message)
