"""The double-entry ledger: positive entries, fixed routes, balances that sum to zero."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain import ledger
from app.domain.ledger import (
    FEE_KINDS,
    ROUTES,
    Account,
    Entry,
    EntryKind,
    LedgerTotals,
    balances,
)

# The routes of ledger.py's docstring, written out again: (debited, credited).
EXPECTED_ROUTES = {
    EntryKind.FUNDING: (Account.CLIENT, Account.ESCROW),
    EntryKind.INITIATION_FEE: (Account.CLIENT, Account.PLATFORM),
    EntryKind.PROCESSING_FEE: (Account.CLIENT, Account.PLATFORM),
    EntryKind.RELEASE: (Account.ESCROW, Account.FREELANCER),
    EntryKind.SERVICE_FEE: (Account.FREELANCER, Account.PLATFORM),
    EntryKind.REFUND: (Account.ESCROW, Account.CLIENT),
    EntryKind.FEE_REFUND: (Account.PLATFORM, Account.CLIENT),
    EntryKind.BONUS: (Account.CLIENT, Account.FREELANCER),
}


def entry(kind: EntryKind, amount: int) -> Entry:
    refunded_fee = EntryKind.INITIATION_FEE if kind is EntryKind.FEE_REFUND else None
    return Entry(kind, amount, refunded_fee=refunded_fee)


entries = st.builds(
    entry, st.sampled_from(list(EntryKind)), st.integers(min_value=1, max_value=10**11)
)


# --- entries ------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, -1, -100_00])
@pytest.mark.parametrize("kind", list(EntryKind))
def test_an_entry_of_a_non_positive_amount_is_refused(kind: EntryKind, amount: int) -> None:
    with pytest.raises(ValueError):
        entry(kind, amount)


@pytest.mark.parametrize("fee_kind", FEE_KINDS)
def test_a_fee_refund_names_the_fee_it_returns(fee_kind: EntryKind) -> None:
    assert Entry(EntryKind.FEE_REFUND, 4_95, refunded_fee=fee_kind).refunded_fee is fee_kind


def test_a_fee_refund_without_its_fee_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        Entry(EntryKind.FEE_REFUND, 4_95)


@pytest.mark.parametrize("kind", [k for k in EntryKind if k is not EntryKind.FEE_REFUND])
def test_only_a_fee_refund_names_a_refunded_fee(kind: EntryKind) -> None:
    with pytest.raises(ValueError):
        Entry(kind, 1_00, refunded_fee=EntryKind.PROCESSING_FEE)


def test_a_fee_refund_cannot_name_a_kind_that_is_not_a_fee() -> None:
    with pytest.raises(ValueError):
        Entry(EntryKind.FEE_REFUND, 1_00, refunded_fee=EntryKind.FUNDING)


# --- routes -------------------------------------------------------------------------------


def test_every_kind_has_a_route() -> None:
    assert set(ROUTES) == set(EntryKind)


@pytest.mark.parametrize("kind", list(EntryKind))
def test_each_kind_moves_money_along_the_route_the_docstring_states(kind: EntryKind) -> None:
    debit, credit = EXPECTED_ROUTES[kind]
    made = entry(kind, 1_00)
    assert (made.debit, made.credit) == (debit, credit)


def test_the_docstring_table_and_the_routes_agree() -> None:
    assert ledger.__doc__ is not None
    stated = {
        EntryKind(kind): (Account(debit.upper()), Account(credit.upper()))
        for kind, debit, credit in re.findall(
            r"^\s+([A-Z_]+)\s+(\w+)\s+->\s+(\w+)", ledger.__doc__, re.MULTILINE
        )
    }
    assert stated == dict(ROUTES)


@pytest.mark.parametrize("kind", list(EntryKind))
def test_an_entry_credits_one_account_and_debits_another_by_its_amount(kind: EntryKind) -> None:
    # The sign, stated once: a balance is what was credited minus what was debited.
    debit, credit = EXPECTED_ROUTES[kind]
    result = balances([entry(kind, 7_00)])
    assert result[credit] == 7_00
    assert result[debit] == -7_00
    assert all(v == 0 for account, v in result.items() if account not in (debit, credit))


def test_funding_takes_money_from_the_client_into_escrow() -> None:
    assert balances([Entry(EntryKind.FUNDING, 100_00)]) == {
        Account.CLIENT: -100_00,
        Account.ESCROW: 100_00,
        Account.FREELANCER: 0,
        Account.PLATFORM: 0,
    }


def test_no_entries_leave_every_account_at_zero() -> None:
    assert balances([]) == dict.fromkeys(Account, 0)


# --- balances -----------------------------------------------------------------------------


@settings(max_examples=200)
@given(st.lists(entries, max_size=30))
def test_the_balances_of_any_entries_sum_to_zero(recorded: list[Entry]) -> None:
    assert sum(balances(recorded).values()) == 0


@settings(max_examples=200)
@given(st.lists(entries, max_size=30))
def test_the_running_totals_agree_with_the_escrow_balance(recorded: list[Entry]) -> None:
    totals = LedgerTotals.empty()
    for made in recorded:
        totals.add(made)
    assert totals.held == balances(recorded)[Account.ESCROW]
    assert totals.total_funded == sum(e.amount for e in recorded if e.kind is EntryKind.FUNDING)
    assert totals.total_released == sum(e.amount for e in recorded if e.kind is EntryKind.RELEASE)
    assert totals.total_refunded == sum(e.amount for e in recorded if e.kind is EntryKind.REFUND)


def test_the_escrow_totals_count_funding_release_and_refund_only() -> None:
    # docs/concepts.md#the-ledger
    totals = LedgerTotals.empty()
    for made in [
        Entry(EntryKind.FUNDING, 100_00),
        Entry(EntryKind.PROCESSING_FEE, 3_00),
        Entry(EntryKind.INITIATION_FEE, 4_95),
        Entry(EntryKind.RELEASE, 60_00),
        Entry(EntryKind.SERVICE_FEE, 6_00),
        Entry(EntryKind.BONUS, 10_00),
        Entry(EntryKind.REFUND, 40_00),
        Entry(EntryKind.FEE_REFUND, 4_95, refunded_fee=EntryKind.INITIATION_FEE),
    ]:
        totals.add(made)
    assert (totals.total_funded, totals.total_released, totals.total_refunded) == (
        100_00,
        60_00,
        40_00,
    )
    assert totals.held == 0


def test_a_fee_is_outstanding_until_a_fee_refund_of_its_kind() -> None:
    totals = LedgerTotals.empty()
    totals.add(Entry(EntryKind.INITIATION_FEE, 4_95))
    totals.add(Entry(EntryKind.PROCESSING_FEE, 3_00))
    totals.add(Entry(EntryKind.FEE_REFUND, 4_95, refunded_fee=EntryKind.INITIATION_FEE))
    assert totals.fee_outstanding(EntryKind.INITIATION_FEE) == 0
    assert totals.fee_outstanding(EntryKind.PROCESSING_FEE) == 3_00
