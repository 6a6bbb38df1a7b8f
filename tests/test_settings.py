"""Settings: defaults, parsing, and refusals that name the setting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.settings import SettingsError, ensure_secret_key, load_settings

pytestmark = pytest.mark.usefixtures("no_env_file")


def test_defaults_are_the_product_contracts() -> None:
    settings = load_settings()
    policy = settings.policy
    assert settings.DATABASE_URL == "sqlite://escrow.sqlite3"
    assert (settings.HOST, settings.PORT) == ("127.0.0.1", 8000)
    assert policy.auto_release_after == timedelta(days=14)
    assert policy.refund_response_window == timedelta(days=7)
    assert settings.JOBS_INTERVAL == timedelta(seconds=30)
    assert (policy.contract_initiation_fee, policy.minimum_milestone_amount) == (495, 500)
    assert (policy.client_processing_fee_bps, policy.freelancer_service_fee_bps) == (300, 1000)
    assert policy.max_milestones_per_contract == 200
    assert (settings.MAX_QUERY_DEPTH, settings.RATE_LIMIT_PER_MINUTE) == (15, 600)
    assert settings.CORS_ORIGINS == ()
    assert settings.GRAPHIQL is True
    assert (settings.MAX_BATCH, settings.MAX_PERSISTED_QUERIES) == (10, 10_000)
    assert settings.WS_KEEP_ALIVE_INTERVAL == timedelta(seconds=15)
    assert settings.CORS_ALLOW_HEADERS == (
        "apollographql-client-name",
        "apollographql-client-version",
        "traceparent",
        "sentry-trace",
        "baggage",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("14d", 1_209_600), ("45", 45), ("0.5s", 0.5)],
)
def test_durations_take_a_unit_or_plain_seconds(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: float
) -> None:
    monkeypatch.setenv("AUTO_RELEASE_AFTER", text)
    assert load_settings().AUTO_RELEASE_AFTER == timedelta(seconds=expected)


def test_amounts_percentages_and_lists_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACT_INITIATION_FEE", "2.50")
    monkeypatch.setenv("CLIENT_PROCESSING_FEE_PERCENT", "2.5")
    monkeypatch.setenv("CORS_ORIGINS", "https://app.example.com/, https://m.example.com")
    monkeypatch.setenv("CORS_ALLOW_HEADERS", " x-request-id,, x-tenant ")
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@db:5432/escrow")
    settings = load_settings()
    assert settings.CONTRACT_INITIATION_FEE == 250
    assert settings.CLIENT_PROCESSING_FEE_PERCENT == 250
    assert settings.CORS_ORIGINS == ("https://app.example.com", "https://m.example.com")
    assert settings.CORS_ALLOW_HEADERS == ("x-request-id", "x-tenant")
    assert settings.DATABASE_URL == "postgres://postgres@db:5432/escrow"
    assert settings.is_postgres


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTO_RELEASE_AFTER", "two weeks"),
        ("REFUND_RESPONSE_WINDOW", "0s"),
        ("PORT", "eighty"),
        ("CONTRACT_INITIATION_FEE", "4.955"),
        ("FREELANCER_SERVICE_FEE_PERCENT", "120"),
        ("MIN_MILESTONE_AMOUNT", "-1"),
        ("DATABASE_URL", "mysql://x"),
        ("GRAPHIQL", "perhaps"),
        ("MAX_BATCH", "0"),
        ("MAX_PERSISTED_QUERIES", "none"),
        ("WS_KEEP_ALIVE_INTERVAL", "0s"),
    ],
)
def test_a_setting_that_cannot_be_parsed_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings()


def test_without_a_secret_key_one_is_written_to_env_once(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    first = ensure_secret_key(load_settings(), env)
    again = ensure_secret_key(load_settings(), env)
    assert len(first.SECRET_KEY) >= 32
    assert again.SECRET_KEY == first.SECRET_KEY
    assert env.read_text().count("SECRET_KEY=") == 1


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [
        ("CLIENT_PROCESSING_FEE_PERCENT", 3, 300),
        ("FREELANCER_SERVICE_FEE_PERCENT", 12, 1200),
        ("CONTRACT_INITIATION_FEE", 5, 500),
        ("MIN_MILESTONE_AMOUNT", 10, 1000),
        ("MAX_AMOUNT", 25000, 2_500_000),
    ],
)
def test_a_number_and_its_text_mean_the_same(name: str, given: int, expected: int) -> None:
    """A money or percent setting is read in major units or percent whether it arrives as an
    integer (`Settings(CLIENT_PROCESSING_FEE_PERCENT=3)`) or as text (`"3"`, the environment)."""
    from_number = load_settings(**{name: given})  # Settings(**overrides), refusals named
    from_text = load_settings(**{name: str(given)})

    assert getattr(from_number, name) == getattr(from_text, name) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("CONTRACT_INITIATION_FEE", 4.95),
        ("CLIENT_PROCESSING_FEE_PERCENT", 2.5),
        ("MIN_MILESTONE_AMOUNT", True),
        ("FREELANCER_SERVICE_FEE_PERCENT", 101),
        ("CONTRACT_INITIATION_FEE", -1),
    ],
)
def test_a_money_setting_refuses_floats_and_out_of_range_numbers(name: str, value: object) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings(**{name: value})


def test_notification_settings_have_the_issues_defaults() -> None:
    settings = load_settings()
    assert (settings.SMTP_URL, settings.SMTP_FROM, settings.smtp) == (None, None, None)
    offsets = settings.reminder_offsets
    assert tuple(offsets.auto_release) == (timedelta(hours=72), timedelta(hours=24))
    assert tuple(offsets.refund_response) == (timedelta(hours=24),)
    assert tuple(offsets.due_date) == (timedelta(hours=24),)
    assert settings.WEBHOOK_RETRY_SCHEDULE == "5s,5m,30m,2h,5h,10h,10h,…"
    assert settings.WEBHOOK_ALLOW_LOOPBACK is False


def test_notification_settings_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://mailer:s%40cret@127.0.0.1:8025")
    monkeypatch.setenv("SMTP_FROM", "Escrow <noreply@escrow.example>")
    monkeypatch.setenv("REMINDERS_BEFORE_AUTO_RELEASE", "24h, 72h")
    monkeypatch.setenv("REMINDER_BEFORE_DUE_DATE", "")
    monkeypatch.setenv("WEBHOOK_RETRY_SCHEDULE", "1s,1s")
    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")
    settings = load_settings()
    assert settings.smtp is not None
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.password) == (
        "127.0.0.1",
        8025,
        "s@cret",
    )
    assert tuple(settings.reminder_offsets.auto_release) == (
        timedelta(hours=72),
        timedelta(hours=24),
    )
    assert tuple(settings.reminder_offsets.due_date) == ()
    assert settings.retry_schedule.wait_after(1, timedelta(0)) == timedelta(seconds=1)
    assert settings.WEBHOOK_ALLOW_LOOPBACK is True


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("SMTP_URL", "http://mail.example", "SMTP_URL"),
        ("SMTP_FROM", "not an address", "SMTP_FROM"),
        ("REMINDERS_BEFORE_AUTO_RELEASE", "72h,soon", "REMINDERS_BEFORE_AUTO_RELEASE"),
        ("REMINDER_BEFORE_REFUND_RESPONSE", "0s", "REMINDER_BEFORE_REFUND_RESPONSE"),
        ("WEBHOOK_RETRY_SCHEDULE", "5s,often", "WEBHOOK_RETRY_SCHEDULE"),
    ],
)
def test_bad_notification_settings_are_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    if name == "SMTP_FROM":
        monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:8025")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_an_smtp_url_needs_a_sender(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:8025")
    with pytest.raises(SettingsError, match="SMTP_FROM"):
        load_settings()
