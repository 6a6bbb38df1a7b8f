"""A notification as an e-mail: the same text in plain text and escaped HTML."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

from app.domain.notifications import Notice, NotificationType
from app.notifications.mail import FOOTER, email_message

NOTICE = Notice(
    recipient_id=2,
    type=NotificationType.MILESTONE_SUBMITTED,
    title="Work submitted: “<b>Logo</b> & co”",
    body="Work on “<script>alert(1)</script>” was submitted.\n\nReview it.\n\nMessage: a\nb",
    contract_id=7,
    milestone_id=11,
)


def parts(message: EmailMessage) -> tuple[str, str]:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    plain, html = (parsed.get_body((kind,)) for kind in ("plain", "html"))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    return plain.get_content(), html.get_content()


def test_an_email_carries_the_notice_in_plain_text_and_html() -> None:
    message = email_message(
        NOTICE, sender="Escrow <no-reply@escrow.example>", to="ann@example.com", key="n-5"
    )

    plain, html = parts(message)
    assert message["Subject"] == NOTICE.title
    assert (message["From"], message["To"]) == (
        "Escrow <no-reply@escrow.example>",
        "ann@example.com",
    )
    assert message["Message-ID"] == "<n-5@escrow.example>"
    assert plain == f"{NOTICE.body}\n\n-- \n{FOOTER}\n"
    assert "<p>Review it.</p>" in html and "<p>Message: a<br>b</p>" in html


def test_what_people_wrote_is_escaped_in_the_html_part() -> None:
    _, html = parts(email_message(NOTICE, sender="x@escrow.example", to="a@b.example", key="k"))

    assert "<script>" not in html and "<b>Logo" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h1>Work submitted: “&lt;b&gt;Logo&lt;/b&gt; &amp; co”</h1>" in html
