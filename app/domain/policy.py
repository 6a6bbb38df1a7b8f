"""The business parameters in force (fees, limits, windows), settled from settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from app.domain.money import MAX_AMOUNT


@dataclass(frozen=True)
class Policy:
    minimum_milestone_amount: int = 500
    max_amount: int = MAX_AMOUNT  # every amount, a piece-rate product, a contract's bonuses
    max_milestones_per_contract: int = 200
    auto_release_after: timedelta = timedelta(days=14)
    refund_response_window: timedelta = timedelta(days=7)
    contract_initiation_fee: int = 495
    client_processing_fee_bps: int = 300
    freelancer_service_fee_bps: int = 1000
