"""The double-entry ledger.

Each entry is a transfer of a positive amount from one account (debited) to another
(credited) of the same contract, so every entry balances by construction and the sum of all
account balances is always zero. An account's balance is what it has been credited minus
what it has been debited. Entries are appended, never updated.

The route of each kind, stated once:

    FUNDING         client     -> escrow      money charged into escrow (fees excluded)
    INITIATION_FEE  client     -> platform
    PROCESSING_FEE  client     -> platform
    RELEASE         escrow     -> freelancer  gross amount paid out of escrow
    SERVICE_FEE     freelancer -> platform    withheld from a release or bonus
    REFUND          escrow     -> client      escrow returned
    FEE_REFUND      platform   -> client      one entry per fee kind returned
    BONUS           client     -> freelancer  bypasses escrow
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Account(StrEnum):
    CLIENT = "CLIENT"
    ESCROW = "ESCROW"
    FREELANCER = "FREELANCER"
    PLATFORM = "PLATFORM"


class EntryKind(StrEnum):
    FUNDING = "FUNDING"
    INITIATION_FEE = "INITIATION_FEE"
    PROCESSING_FEE = "PROCESSING_FEE"
    RELEASE = "RELEASE"
    SERVICE_FEE = "SERVICE_FEE"
    REFUND = "REFUND"
    FEE_REFUND = "FEE_REFUND"
    BONUS = "BONUS"


ROUTES: Mapping[EntryKind, tuple[Account, Account]] = {
    EntryKind.FUNDING: (Account.CLIENT, Account.ESCROW),
    EntryKind.INITIATION_FEE: (Account.CLIENT, Account.PLATFORM),
    EntryKind.PROCESSING_FEE: (Account.CLIENT, Account.PLATFORM),
    EntryKind.RELEASE: (Account.ESCROW, Account.FREELANCER),
    EntryKind.SERVICE_FEE: (Account.FREELANCER, Account.PLATFORM),
    EntryKind.REFUND: (Account.ESCROW, Account.CLIENT),
    EntryKind.FEE_REFUND: (Account.PLATFORM, Account.CLIENT),
    EntryKind.BONUS: (Account.CLIENT, Account.FREELANCER),
}

FEE_KINDS = (EntryKind.INITIATION_FEE, EntryKind.PROCESSING_FEE)


@dataclass(frozen=True)
class Entry:
    kind: EntryKind
    amount: int
    milestone_id: int | None = None
    refunded_fee: EntryKind | None = None

    def __post_init__(self) -> None:
        if self.amount <= 0:
            raise ValueError(f"ledger amounts are positive, got {self.amount} for {self.kind}")
        if (self.kind is EntryKind.FEE_REFUND) != (self.refunded_fee in FEE_KINDS):
            raise ValueError("a FEE_REFUND names the fee kind it returns, and only it does")

    @property
    def debit(self) -> Account:
        return ROUTES[self.kind][0]

    @property
    def credit(self) -> Account:
        return ROUTES[self.kind][1]


def balances(entries: Iterable[Entry]) -> dict[Account, int]:
    result = dict.fromkeys(Account, 0)
    for entry in entries:
        result[entry.debit] -= entry.amount
        result[entry.credit] += entry.amount
    return result


@dataclass
class LedgerTotals:
    """Sums of a contract's entries by kind; fee refunds by the fee kind they return."""

    by_kind: dict[EntryKind, int]
    fee_refunds: dict[EntryKind, int]

    @classmethod
    def empty(cls) -> LedgerTotals:
        return cls(dict.fromkeys(EntryKind, 0), dict.fromkeys(FEE_KINDS, 0))

    def add(self, entry: Entry) -> None:
        self.by_kind[entry.kind] += entry.amount
        if entry.refunded_fee is not None:
            self.fee_refunds[entry.refunded_fee] += entry.amount

    @property
    def total_funded(self) -> int:
        return self.by_kind[EntryKind.FUNDING]

    @property
    def total_released(self) -> int:
        return self.by_kind[EntryKind.RELEASE]

    @property
    def total_refunded(self) -> int:
        return self.by_kind[EntryKind.REFUND]

    @property
    def held(self) -> int:
        return self.total_funded - self.total_released - self.total_refunded

    def fee_outstanding(self, kind: EntryKind) -> int:
        """A fee charged and not yet refunded."""
        return self.by_kind[kind] - self.fee_refunds[kind]
