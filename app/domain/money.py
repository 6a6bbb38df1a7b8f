"""Money: integer minor units inside, `Decimal` strings at the edge.

Every supported currency has two minor digits. Parsing refuses rather than rounds; a float
never becomes money.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from app.domain.errors import DomainError, ErrorCode

CURRENCIES: frozenset[str] = frozenset({"USD", "EUR", "GBP", "CAD", "AUD"})
DEFAULT_CURRENCY = "USD"
MINOR_DIGITS = 2
MINOR_PER_MAJOR = 10**MINOR_DIGITS
MAX_AMOUNT = 1_000_000_000 * MINOR_PER_MAJOR  # the default of the MAX_AMOUNT setting
BASIS_POINTS = 10_000

_NUMBER = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


def format_amount(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    major, minor = divmod(abs(cents), MINOR_PER_MAJOR)
    return f"{sign}{major}.{minor:0{MINOR_DIGITS}d}"


def parse_amount(
    text: str,
    field: Sequence[str] = ("amount",),
    *,
    allow_zero: bool = False,
    maximum: int = MAX_AMOUNT,
) -> int:
    """Parse a positive `Decimal` string of at most `maximum` minor units, or refuse with
    `INVALID_AMOUNT`."""
    match = _NUMBER.fullmatch(text) if len(text) <= 32 else None

    def invalid(reason: str) -> DomainError:
        return DomainError.one(ErrorCode.INVALID_AMOUNT, f"{reason}: {text[:40]!r}", field)

    if match is None:
        raise invalid("Amount is not a number")
    negative, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    value = Decimal(f"{whole}.{fraction or '0'}")
    if value == 0 and not allow_zero:
        raise invalid("Amount must be greater than zero")
    if negative and value != 0:
        raise invalid("Amount must not be negative")
    if len(fraction) > MINOR_DIGITS:
        raise invalid(f"Amount has more than {MINOR_DIGITS} decimal places")
    cents = int(value * MINOR_PER_MAJOR)
    if cents > maximum:
        raise invalid(f"Amount exceeds the maximum of {format_amount(maximum)}")
    return cents


def parse_percent(text: str) -> int:
    """A percentage such as "3" or "2.5" as basis points (300, 250)."""
    value = Decimal(text.strip())
    bps = value * 100
    if not value.is_finite() or bps != bps.to_integral_value() or not 0 <= bps <= BASIS_POINTS:
        raise ValueError(f"{text!r} is not a percentage between 0 and 100 with two decimals")
    return int(bps)


def format_percent(bps: int) -> str:
    return format_amount(bps)


def fee(amount: int, bps: int) -> int:
    """`bps` basis points of `amount`, rounded half up to the cent."""
    return (amount * bps + BASIS_POINTS // 2) // BASIS_POINTS
