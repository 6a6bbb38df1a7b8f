"""Money at the edge: strict parsing, formatting, fees and percentages (docs/concepts.md#money,
docs/rules.md#milestone-fields, docs/concepts.md#fees)."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from app.domain.errors import DomainError, ErrorCode
from app.domain.money import (
    BASIS_POINTS,
    MAX_AMOUNT,
    check_amount,
    fee,
    format_amount,
    format_percent,
    parse_amount,
    parse_percent,
    read_amount,
)

cents = st.integers(min_value=0, max_value=MAX_AMOUNT)
positive_cents = st.integers(min_value=1, max_value=MAX_AMOUNT)
basis_points = st.integers(min_value=0, max_value=BASIS_POINTS)
FIELD = ("milestones", "3", "amount")


def refusal(text: str, field: tuple[str, ...] = FIELD) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_amount(text, field)
    return caught.value


# --- parse_amount / format_amount ---------------------------------------------------------


@settings(max_examples=200)
@given(cents)
@example(0)
@example(MAX_AMOUNT)
def test_parsing_a_formatted_amount_gives_back_the_cents(value: int) -> None:
    assert parse_amount(format_amount(value), allow_zero=True) == value


@settings(max_examples=200)
@given(positive_cents)
def test_a_positive_amount_round_trips_without_allowing_zero(value: int) -> None:
    assert parse_amount(format_amount(value)) == value


@settings(max_examples=200)
@given(cents)
def test_a_formatted_amount_always_has_exactly_two_decimals(value: int) -> None:
    whole, _, fraction = format_amount(value).partition(".")
    assert whole.isdigit()
    assert len(fraction) == 2
    assert fraction.isdigit()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("25", 25_00), ("25.5", 25_50), ("25.50", 25_50), ("0.01", 1), ("1000000000.00", MAX_AMOUNT)],
)
def test_an_amount_may_have_up_to_two_decimals(text: str, expected: int) -> None:
    assert parse_amount(text) == expected


def test_format_amount_always_writes_the_minor_digits() -> None:
    assert format_amount(25_00) == "25.00"
    assert format_amount(5) == "0.05"
    assert format_amount(0) == "0.00"


@pytest.mark.parametrize("text", ["0", "0.00", "0.0", "-0", "-0.00"])
def test_zero_is_not_an_amount(text: str) -> None:
    error = refusal(text)
    assert error.code is ErrorCode.INVALID_AMOUNT
    assert error.problems[0].field == FIELD


def test_zero_is_accepted_where_it_is_allowed() -> None:
    # A part of a dispute split may be zero (docs/concepts.md#money).
    assert parse_amount("0.00", allow_zero=True) == 0


@settings(max_examples=200)
@given(positive_cents)
def test_a_negative_amount_is_refused(value: int) -> None:
    error = refusal("-" + format_amount(value))
    assert error.code is ErrorCode.INVALID_AMOUNT
    assert error.problems[0].field == FIELD


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=3, max_value=8))
def test_more_than_two_decimals_is_refused(whole: int, digits: int) -> None:
    error = refusal(f"{whole}.{'1' * digits}")
    assert error.code is ErrorCode.INVALID_AMOUNT
    assert error.problems[0].field == FIELD


@pytest.mark.parametrize("text", ["1.000", "1.100", "0.001", "-1.234"])
def test_trailing_zeros_beyond_the_cents_are_still_too_many_decimals(text: str) -> None:
    assert refusal(text).code is ErrorCode.INVALID_AMOUNT


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "ten",
        "1.2.3",
        "1,00",
        "1.",
        ".50",
        "+1.00",
        "$5",
        "5 USD",
        "NaN",
        "nan",
        "Infinity",
        "-Infinity",
        "0x10",
        "1_000",
        "--1",
    ],
)
def test_a_non_number_is_refused(text: str) -> None:
    error = refusal(text)
    assert error.code is ErrorCode.INVALID_AMOUNT
    assert error.problems[0].field == FIELD


@pytest.mark.parametrize("text", ["1e2", "1E2", "1.5e1", "1e-2", "1E+2", "0e0"])
def test_an_exponent_form_is_refused(text: str) -> None:
    assert refusal(text).code is ErrorCode.INVALID_AMOUNT


@pytest.mark.parametrize(
    "text", [" 1.00", "1.00 ", " ", "1 .00", "1. 00", "\t1.00", "1.00\t", "\n1.00", "1.00\n"]
)
def test_whitespace_is_refused(text: str) -> None:
    error = refusal(text)
    assert error.code is ErrorCode.INVALID_AMOUNT
    assert error.problems[0].field == FIELD


@settings(max_examples=200)
@given(
    positive_cents,
    st.sampled_from([" ", "\t", "\n", "\r", "\r\n", "\u00a0"]),
    st.sampled_from(["before", "after"]),
)
def test_whitespace_around_any_amount_is_refused(value: int, space: str, where: str) -> None:
    text = space + format_amount(value) if where == "before" else format_amount(value) + space
    assert refusal(text).code is ErrorCode.INVALID_AMOUNT


@pytest.mark.parametrize(
    "text", ["\u0661\u0660\u0660", "\uff11\uff10\uff10.\uff10\uff10", "\u0967\u0968.\u096b\u0966"]
)
def test_digits_other_than_ascii_are_refused(text: str) -> None:
    # Parsed strictly, refused rather than rounded; a Decimal is "25.00" (docs/concepts.md#money).
    assert refusal(text).code is ErrorCode.INVALID_AMOUNT


def test_an_amount_above_the_maximum_is_refused() -> None:
    assert refusal(format_amount(MAX_AMOUNT + 1)).code is ErrorCode.INVALID_AMOUNT


amount_like_text = st.text(alphabet="0123456789.-+eE_, \t\n\u0660\uff11x", max_size=16)


@settings(max_examples=300)
@given(st.one_of(amount_like_text, st.text(max_size=16)))
def test_any_text_is_either_a_plain_decimal_or_refused_with_invalid_amount(text: str) -> None:
    try:
        value = parse_amount(text, FIELD)
    except DomainError as error:
        assert [(p.code, p.field) for p in error.problems] == [(ErrorCode.INVALID_AMOUNT, FIELD)]
    else:
        assert re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", text), f"accepted {text!r}"
        assert 0 < value <= MAX_AMOUNT
        assert Decimal(text) * 100 == value


def test_the_refusal_names_the_field_it_was_given() -> None:
    error = refusal("abc", ("requested_amount",))
    assert error.problems[0].field == ("requested_amount",)


def test_without_a_field_the_refusal_names_amount() -> None:
    with pytest.raises(DomainError) as caught:
        parse_amount("abc")
    assert caught.value.problems[0].field == ("amount",)


# --- fees ---------------------------------------------------------------------------------


def decimal_fee(amount: int, bps: int) -> int:
    exact = Decimal(amount) * Decimal(bps) / Decimal(BASIS_POINTS)
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@settings(max_examples=200)
@given(cents, basis_points)
@example(50, 300)
@example(50, 1000)
@example(5, 1000)
@example(15, 1000)
def test_a_fee_is_the_percentage_rounded_half_up_to_the_cent(amount: int, bps: int) -> None:
    assert fee(amount, bps) == decimal_fee(amount, bps)


@settings(max_examples=200)
@given(cents, cents, basis_points)
def test_a_fee_never_decreases_when_the_amount_grows(a: int, b: int, bps: int) -> None:
    low, high = sorted((a, b))
    assert fee(low, bps) <= fee(high, bps)


@settings(max_examples=200)
@given(cents, basis_points)
def test_a_fee_is_never_more_than_the_amount(amount: int, bps: int) -> None:
    assert 0 <= fee(amount, bps) <= amount


def test_three_percent_of_fifty_cents_is_two_cents() -> None:
    # docs/concepts.md#fees
    assert fee(50, 300) == 2


def test_the_fee_examples_of_the_product_contract() -> None:
    # docs/concepts.md#fees: 3 % of 100.00 is 3.00; §1: 10 % service fee.
    assert fee(100_00, 300) == 3_00
    assert fee(60_00, 1000) == 6_00
    assert fee(1, 300) == 0


# --- percentages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "bps"), [("3", 300), ("2.5", 250), ("10.00", 1000), ("0", 0), ("100", 10_000)]
)
def test_a_percentage_is_read_as_basis_points(text: str, bps: int) -> None:
    assert parse_percent(text) == bps


@pytest.mark.parametrize("text", ["101", "-1", "1.234", "abc", "NaN", "Infinity", ""])
def test_a_percentage_outside_0_to_100_or_with_more_than_two_decimals_is_refused(
    text: str,
) -> None:
    # Settings turn these into a message naming the setting (docs/settings.md#settings); the domain
    # refuses
    # with ValueError, or decimal's InvalidOperation (an ArithmeticError) for a non-number.
    with pytest.raises((ValueError, ArithmeticError)):
        parse_percent(text)


@settings(max_examples=200)
@given(basis_points)
def test_a_formatted_percentage_reads_back_the_same(bps: int) -> None:
    assert parse_percent(format_percent(bps)) == bps


def test_a_percentage_is_written_with_two_decimals() -> None:
    # docs/concepts.md#fees: fee percentages are Decimal strings such as "3.00".
    assert format_percent(300) == "3.00"
    assert format_percent(250) == "2.50"


# --- the syntax (at the edge) and the range rule (in the domain) ----------------------------


@pytest.mark.parametrize(
    ("text", "expected"), [("10", 10_00), ("10.00", 10_00), ("-5", -5_00), ("0", 0), ("0.5", 50)]
)
def test_reading_an_amount_gives_its_cents_sign_and_zero_included(text: str, expected: int) -> None:
    assert read_amount(text) == expected


@pytest.mark.parametrize("text", ["abc", "1.234", "", "1e3", "NaN", " 1", "+1"])
def test_reading_refuses_what_is_not_a_number_with_at_most_two_decimals(text: str) -> None:
    with pytest.raises(DomainError) as caught:
        read_amount(text, FIELD)
    assert [(p.code, p.field) for p in caught.value.problems] == [(ErrorCode.INVALID_AMOUNT, FIELD)]


@pytest.mark.parametrize(("cents", "allow_zero"), [(0, False), (-1, False), (-1, True)])
def test_the_range_rule_refuses_zero_unless_allowed_and_anything_negative(
    cents: int, allow_zero: bool
) -> None:
    with pytest.raises(DomainError) as caught:
        check_amount(cents, FIELD, allow_zero=allow_zero)
    assert [(p.code, p.field) for p in caught.value.problems] == [(ErrorCode.INVALID_AMOUNT, FIELD)]


def test_the_range_rule_takes_zero_when_allowed_and_up_to_the_maximum() -> None:
    assert check_amount(0, allow_zero=True) == 0
    assert check_amount(7_00, maximum=7_00) == 7_00
    with pytest.raises(DomainError):
        check_amount(7_01, maximum=7_00)
