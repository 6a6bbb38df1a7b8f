"""What every use case needs besides its input: the policy, the clock, the secret, the bus, the
process's cache of who tokens belong to, whether notifications are e-mailed (SMTP_URL set), and
whether webhook URLs may be loopback addresses (WEBHOOK_ALLOW_LOOPBACK)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.domain.policy import Policy
from app.events.bus import Bus, LocalBus
from app.services.principals import Principals


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    policy: Policy
    secret_key: str
    clock: Callable[[], datetime] = field(default=system_clock)
    bus: Bus = field(default_factory=LocalBus)
    principals: Principals = field(default_factory=Principals)
    emails: bool = False
    webhook_allow_loopback: bool = False
