"""Durations as the settings write them: `90s`, `15m`, `2h`, `14d` or plain seconds.

Here, below the settings, so that the parsers of the notification settings (lists of
durations, the webhook retry schedule) read them without importing the settings module.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(str(value).strip())
    if not match:
        raise ValueError("expected a duration such as 90s, 15m, 2h, 14d or plain seconds")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def parse_durations(value: Any) -> tuple[timedelta, ...]:
    """A comma-separated list of positive durations (`72h,24h`), longest first, no repeat."""
    items = value.split(",") if isinstance(value, str) else list(value)
    durations = tuple(parse_duration(item) for item in items if str(item).strip())
    if any(duration.total_seconds() <= 0 for duration in durations):
        raise ValueError("every duration must be positive")
    return tuple(sorted(set(durations), reverse=True))
