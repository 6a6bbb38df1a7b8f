"""What every use case needs besides its input: the policy in force, the clock, the secret."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.domain.policy import Policy


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Runtime:
    policy: Policy
    secret_key: str
    clock: Callable[[], datetime] = field(default=system_clock)
