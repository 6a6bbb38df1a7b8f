"""The MAX_AMOUNT setting (issue 7, point 10): parsed like the other money settings, carried
into the policy, and refused where no ledger sum could be trusted to fit 64 bits."""

from __future__ import annotations

import pytest

from app.settings import SettingsError, load_settings

pytestmark = pytest.mark.usefixtures("no_env_file")


def test_max_amount_defaults_to_a_billion_in_the_policy() -> None:
    settings = load_settings()

    assert settings.MAX_AMOUNT == 100_000_000_000
    assert settings.policy.max_amount == 100_000_000_000


def test_max_amount_is_an_amount_with_two_decimals(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_AMOUNT", "25000.50")

    assert load_settings().policy.max_amount == 2_500_050


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "1.001",
        "a lot",
        "4.99",  # below MIN_MILESTONE_AMOUNT: no milestone could be offered
        "50000000000000000",  # 200 milestones of it would overflow a 64-bit sum
    ],
)
def test_a_max_amount_that_cannot_hold_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("MAX_AMOUNT", value)

    with pytest.raises(SettingsError, match="MAX_AMOUNT"):
        load_settings()
