"""Settings from the environment (and a `.env` file in the working directory)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from decimal import InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from app.domain.durations import parse_duration, parse_durations
from app.domain.errors import DomainError
from app.domain.money import MAX_AMOUNT as DEFAULT_MAX_AMOUNT
from app.domain.money import format_amount, parse_amount, parse_percent
from app.domain.policy import Policy
from app.domain.reminders import ReminderOffsets
from app.notifications.retries import DEFAULT_SCHEDULE, RetrySchedule
from app.notifications.smtp import SmtpTarget, parse_sender

ENV_FILE = ".env"


class SettingsError(Exception):
    """A setting that cannot be parsed; the message names it."""


def _number_text(value: Any, example: str) -> str:
    """Money and percent settings in one reading: an integer means what its digits mean as
    text (`3` is `"3"`: three percent, three units), so the domain's parser reads both. A float
    never becomes money, and a bool is no number."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"expected an integer or a text such as {example}")
    return str(value).strip()


def parse_cents(value: Any) -> int:
    """A non-negative amount in major units ("4.95", 5) as minor units, by the domain's parser;
    the upper bound is the MAX_AMOUNT setting's own check."""
    try:
        return parse_amount(_number_text(value, "4.95"), allow_zero=True, maximum=2**63)
    except DomainError:
        raise ValueError("expected a non-negative amount with at most two decimals") from None


def parse_percent_setting(value: Any) -> int:
    """A percentage ("2.5", 3) as basis points, by the domain's parser."""
    try:
        return parse_percent(_number_text(value, "2.5"))
    except (ValueError, InvalidOperation):
        raise ValueError("expected a percentage such as 3 or 2.5") from None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    DATABASE_URL: str = "sqlite://escrow.sqlite3"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=1, le=65535)
    SECRET_KEY: str = ""
    AUTO_RELEASE_AFTER: timedelta = timedelta(days=14)
    REFUND_RESPONSE_WINDOW: timedelta = timedelta(days=7)
    JOBS_INTERVAL: timedelta = timedelta(seconds=30)
    WS_KEEP_ALIVE_INTERVAL: timedelta = timedelta(seconds=15)
    CORS_ORIGINS: Annotated[tuple[str, ...], NoDecode] = ()
    # Request headers a cross-origin page may send besides Authorization and Content-Type.
    CORS_ALLOW_HEADERS: Annotated[tuple[str, ...], NoDecode] = (
        "apollographql-client-name",
        "apollographql-client-version",
        "traceparent",
        "sentry-trace",
        "baggage",
    )
    MAX_QUERY_DEPTH: int = Field(default=15, ge=1)
    MAX_ALIASES: int = Field(default=50, ge=1)
    MAX_QUERY_COST: int = Field(default=5000, ge=1)
    MAX_QUERY_NODES: int = Field(default=500_000, ge=1)
    MAX_BODY_BYTES: int = Field(default=1_000_000, ge=1)
    MAX_BATCH: int = Field(default=10, ge=1)
    MAX_PERSISTED_QUERIES: int = Field(default=10_000, ge=1)
    RATE_LIMIT_PER_MINUTE: int = Field(default=600, ge=1)
    LOGIN_RATE_LIMIT_PER_MINUTE: int = Field(default=10, ge=1)
    REDIS_URL: str | None = None
    SESSION_TTL: timedelta = timedelta(days=30)
    # The proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated
    # addresses or networks, "*" for any); none by default: the client is the socket's peer.
    FORWARDED_ALLOW_IPS: str = ""
    GRAPHIQL: bool = True
    # Money and percent settings hold minor units and basis points once read; their defaults
    # are written as the environment would give them, and read by the same validators.
    CONTRACT_INITIATION_FEE: int = Field(default="4.95", validate_default=True)
    CLIENT_PROCESSING_FEE_PERCENT: int = Field(default="3", validate_default=True)
    FREELANCER_SERVICE_FEE_PERCENT: int = Field(default="10", validate_default=True)
    MIN_MILESTONE_AMOUNT: int = Field(default="5.00", validate_default=True)
    MAX_MILESTONES_PER_CONTRACT: int = Field(default=200, ge=1)
    # After the two above, which its check reads.
    MAX_AMOUNT: int = Field(default=format_amount(DEFAULT_MAX_AMOUNT), validate_default=True)
    SMTP_URL: str | None = None
    SMTP_FROM: str | None = None
    REMINDERS_BEFORE_AUTO_RELEASE: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=72),
        timedelta(hours=24),
    )
    REMINDER_BEFORE_REFUND_RESPONSE: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=24),
    )
    REMINDER_BEFORE_DUE_DATE: Annotated[tuple[timedelta, ...], NoDecode] = (timedelta(hours=24),)
    WEBHOOK_RETRY_SCHEDULE: str = DEFAULT_SCHEDULE
    WEBHOOK_ALLOW_LOOPBACK: bool = False

    @field_validator(
        "AUTO_RELEASE_AFTER",
        "REFUND_RESPONSE_WINDOW",
        "JOBS_INTERVAL",
        "SESSION_TTL",
        "WS_KEEP_ALIVE_INTERVAL",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        duration = parse_duration(value)
        if duration.total_seconds() <= 0:
            raise ValueError("a duration must be positive")
        return duration

    @field_validator("CONTRACT_INITIATION_FEE", "MIN_MILESTONE_AMOUNT", "MAX_AMOUNT", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> int:
        return parse_cents(value)

    @field_validator("MAX_AMOUNT")
    @classmethod
    def _max_amount(cls, value: int, info: ValidationInfo) -> int:
        """A contract's ledger sums stay under (milestones + 1) x MAX_AMOUNT (the one is its
        bonuses); that must fit a 64-bit integer (SQLite's, PostgreSQL's BIGINT) with room."""
        minimum = info.data.get("MIN_MILESTONE_AMOUNT", 0)
        if value < max(minimum, 1):
            raise ValueError("must be at least MIN_MILESTONE_AMOUNT")
        milestones = info.data.get("MAX_MILESTONES_PER_CONTRACT", 1)
        if (milestones + 1) * value > 2**62:
            raise ValueError("times MAX_MILESTONES_PER_CONTRACT + 1 must stay below 2^62 cents")
        return value

    @field_validator(
        "CLIENT_PROCESSING_FEE_PERCENT", "FREELANCER_SERVICE_FEE_PERCENT", mode="before"
    )
    @classmethod
    def _percent(cls, value: Any) -> int:
        return parse_percent_setting(value)

    @field_validator("CORS_ORIGINS", "CORS_ALLOW_HEADERS", mode="before")
    @classmethod
    def _list(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        items = value.split(",") if isinstance(value, str) else value
        stripped = (str(item).strip() for item in items)
        if info.field_name == "CORS_ORIGINS":  # an origin has no path: `https://a.example/` is one
            stripped = (item.rstrip("/") for item in stripped)
        return tuple(item for item in stripped if item)

    @field_validator("SMTP_URL", "SMTP_FROM")
    @classmethod
    def _smtp(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or not value.strip():
            return None
        if info.field_name == "SMTP_URL":
            SmtpTarget.parse(value)
            return value.strip()
        return parse_sender(value)

    @model_validator(mode="after")
    def _smtp_sender(self) -> Settings:
        if self.SMTP_URL is not None and self.SMTP_FROM is None:
            raise ValueError("SMTP_FROM: the sender address is required when SMTP_URL is set")
        return self

    @field_validator(
        "REMINDERS_BEFORE_AUTO_RELEASE",
        "REMINDER_BEFORE_REFUND_RESPONSE",
        "REMINDER_BEFORE_DUE_DATE",
        mode="before",
    )
    @classmethod
    def _offsets(cls, value: Any) -> tuple[timedelta, ...]:
        return parse_durations(value)

    @field_validator("WEBHOOK_RETRY_SCHEDULE")
    @classmethod
    def _retry_schedule(cls, value: str) -> str:
        RetrySchedule.parse(value)
        return value.strip()

    @field_validator("REDIS_URL")
    @classmethod
    def _redis(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.startswith(("redis://", "rediss://")):
            raise ValueError("expected redis://HOST:PORT[/DB] or rediss://…")
        return value.strip()

    @field_validator("DATABASE_URL")
    @classmethod
    def _database(cls, value: str) -> str:
        if value.startswith("postgresql://"):
            value = "postgres://" + value.removeprefix("postgresql://")
        if not value.startswith(("sqlite://", "postgres://")):
            raise ValueError("expected sqlite://PATH or postgres://USER@HOST:PORT/NAME")
        return value

    @property
    def is_postgres(self) -> bool:
        return self.DATABASE_URL.startswith("postgres://")

    @property
    def smtp(self) -> SmtpTarget | None:
        """Where e-mail goes; None: e-mail is off."""
        return None if self.SMTP_URL is None else SmtpTarget.parse(self.SMTP_URL)

    @property
    def retry_schedule(self) -> RetrySchedule:
        return RetrySchedule.parse(self.WEBHOOK_RETRY_SCHEDULE)

    @property
    def reminder_offsets(self) -> ReminderOffsets:
        return ReminderOffsets(
            self.REMINDERS_BEFORE_AUTO_RELEASE,
            self.REMINDER_BEFORE_REFUND_RESPONSE,
            self.REMINDER_BEFORE_DUE_DATE,
        )

    @property
    def policy(self) -> Policy:
        return Policy(
            minimum_milestone_amount=self.MIN_MILESTONE_AMOUNT,
            max_amount=self.MAX_AMOUNT,
            max_milestones_per_contract=self.MAX_MILESTONES_PER_CONTRACT,
            auto_release_after=self.AUTO_RELEASE_AFTER,
            refund_response_window=self.REFUND_RESPONSE_WINDOW,
            contract_initiation_fee=self.CONTRACT_INITIATION_FEE,
            client_processing_fee_bps=self.CLIENT_PROCESSING_FEE_PERCENT,
            freelancer_service_fee_bps=self.FREELANCER_SERVICE_FEE_PERCENT,
        )


def asyncpg_dsn(database_url: str) -> str:
    """The DSN asyncpg takes for a `postgres://` setting, without Tortoise's pool options."""
    return "postgresql://" + database_url.split("://", 1)[1].split("?", 1)[0]


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; raise `SettingsError` naming the first one that cannot be parsed."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})"
            for e in error.errors()
        )
        raise SettingsError(f"Invalid setting {problems}") from None


def ensure_secret_key(settings: Settings, env_file: Path = Path(ENV_FILE)) -> Settings:
    """Without SECRET_KEY, write a random one to `.env` once, and say so."""
    if settings.SECRET_KEY:
        return settings
    key = secrets.token_urlsafe(48)
    with env_file.open("a", encoding="utf-8") as handle:
        handle.write(f"SECRET_KEY={key}\n")
    print(f"No SECRET_KEY was set: wrote a new random one to {env_file.resolve()}")
    return settings.model_copy(update={"SECRET_KEY": key})
