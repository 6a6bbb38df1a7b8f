"""Input checks that report every bad field of an action at once
(docs/rules.md#the-order-of-checks).

`checking(rejected)` collects the problems of one action's input and raises them together when
the block ends. It starts from what the edge already refused while reading the input
(`Command.rejected`, e.g. an amount that is not a number): a refused field is not checked again,
and its value, a placeholder, is never read (`Checks.amount` gives None for it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from app.domain.errors import DomainError, ErrorCode, Problem
from app.domain.money import MAX_AMOUNT, check_amount

MAX_TEXT = 10_000


class Checks:
    """The problems found so far in one action's input."""

    def __init__(self, rejected: Iterable[Problem] = ()) -> None:
        self.problems = list(rejected)
        self._refused = frozenset(p.field for p in self.problems)

    def add(self, code: ErrorCode, message: str, field: Sequence[str]) -> None:
        self.extend(DomainError.one(code, message, field))

    def extend(self, error: DomainError) -> None:
        self.problems.extend(p for p in error.problems if p.field not in self._refused)

    def text(self, value: str | None, field: Sequence[str], limit: int = MAX_TEXT) -> str:
        text = value or ""
        if len(text) > limit:
            self.add(ErrorCode.INVALID_INPUT, f"Longer than {limit} characters", field)
        return text

    def amount(
        self,
        cents: int | None,
        field: Sequence[str],
        *,
        maximum: int = MAX_AMOUNT,
        allow_zero: bool = False,
    ) -> int | None:
        """The amount if it is in range, else None (with its problem added)."""
        if cents is None or tuple(field) in self._refused:
            return None
        try:
            return check_amount(cents, field, allow_zero=allow_zero, maximum=maximum)
        except DomainError as error:
            self.extend(error)
            return None

    def raise_if_any(self) -> None:
        if self.problems:
            raise DomainError(self.problems)


@contextmanager
def checking(rejected: Iterable[Problem] = ()) -> Iterator[Checks]:
    """Check an input in the block; at its end, refuse with every problem found, if any."""
    checks = Checks(rejected)
    yield checks
    checks.raise_if_any()
