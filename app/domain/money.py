"""Money: integer minor units inside, `Decimal` strings at the edge.

Every supported currency has two minor digits. Reading a `Decimal` string (`read_amount`, at
the edge) refuses rather than rounds; a float never becomes money. `check_amount` is the range
rule the domain applies to the cents.
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


def read_amount(text: str, field: Sequence[str] = ("amount",)) -> int:
    """The cents a `Decimal` string writes: a number with at most two decimals, its sign kept
    for `check_amount` to judge; anything else is refused with `INVALID_AMOUNT`. This is the
    syntax only, read at the edge (and by the settings)."""
    match = _NUMBER.fullmatch(text) if len(text) <= 32 else None
    if match is None:
        raise _invalid(f"Amount is not a number: {text[:40]!r}", field)
    negative, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if len(fraction) > MINOR_DIGITS:
        raise _invalid(f"Amount has more than {MINOR_DIGITS} decimal places: {text[:40]!r}", field)
    cents: int = int(whole) * MINOR_PER_MAJOR + int(fraction.ljust(MINOR_DIGITS, "0"))
    return -cents if negative else cents


def check_amount(
    cents: int,
    field: Sequence[str] = ("amount",),
    *,
    allow_zero: bool = False,
    maximum: int = MAX_AMOUNT,
) -> int:
    """The range rule the domain applies to an amount: positive (or zero, if allowed) and at
    most `maximum` minor units, or refused with `INVALID_AMOUNT`."""
    if cents == 0 and not allow_zero:
        raise _invalid("Amount must be greater than zero", field)
    if cents < 0:
        raise _invalid(f"Amount must not be negative: {format_amount(cents)!r}", field)
    if cents > maximum:
        raise _invalid(f"Amount exceeds the maximum of {format_amount(maximum)}", field)
    return cents


def parse_amount(
    text: str,
    field: Sequence[str] = ("amount",),
    *,
    allow_zero: bool = False,
    maximum: int = MAX_AMOUNT,
) -> int:
    """`read_amount` and then `check_amount`: a whole amount setting or test value."""
    return check_amount(read_amount(text, field), field, allow_zero=allow_zero, maximum=maximum)


def _invalid(message: str, field: Sequence[str]) -> DomainError:
    return DomainError.one(ErrorCode.INVALID_AMOUNT, message, field)


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
