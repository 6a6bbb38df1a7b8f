"""The input types of the mutations, one `NameInput` per mutation of the table in mutations.py,
and the nested inputs they hold. Each is read into its command (`app.domain.commands`, whose
field names are these python names) by `app.graphql.commands`.

Each field says what it means, its limits and its default, as a client developer reads it in
the schema; a field that several inputs share with one meaning is described once, here."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import strawberry

from app.domain.changes import MAX_CHANGES
from app.domain.checks import MAX_TEXT
from app.domain.milestones import MAX_TITLE
from app.domain.money import CURRENCIES
from app.domain.urls import MAX_URL
from app.domain.work import MAX_ATTACHMENTS
from app.graphql.enums import ChangeAction, Scope
from app.graphql.scalars import Decimal
from app.services.accounts import MAX_EMAIL, MAX_PASSWORD, MIN_PASSWORD
from app.services.deadlines import IDEMPOTENCY_KEPT
from app.services.unit import MAX_KEY_LENGTH

_TEXT = f"at most {MAX_TEXT:,} characters"
_UNDER_WAY = "`FUNDED`, `SUBMITTED` or `REVISION_REQUESTED`"  # active, not disputed


def optional(description: str) -> Any:
    """An optional input field (null or left out: the default the description states)."""
    return strawberry.field(default=None, description=description)


def _text(what: str) -> Any:
    return optional(f"{what}; {_TEXT}. Optional.")


def _idempotency_key() -> Any:
    return optional(
        f"Any string of yours, at most {MAX_KEY_LENGTH} characters, naming this attempt: a "
        "retry with the same key and the same input returns the first result and moves no "
        f"money again (kept {IDEMPOTENCY_KEPT // timedelta(hours=1)} hours); the same key "
        "with other input is IDEMPOTENCY_KEY_REUSED. Send one whenever a timeout could make you "
        "retry."
    )


def _amount(what: str) -> Any:
    return strawberry.field(description=f'{what}. A Decimal string such as "25.00".')


def _optional_amount(what: str) -> Any:
    return optional(f'{what}. A Decimal string such as "25.00".')


def _id(of: str, state: str = "") -> Any:
    """A global id field naming the object `of`, which must be in `state` (if given)."""
    must = f", which must be {state}" if state else ""
    return strawberry.field(description=f"The global id of the {of}{must}.")


# accounts


@strawberry.input(description="A new account.")
class RegisterInput:
    name: str = strawberry.field(description=f"The display name, 1 to {MAX_TITLE} characters.")
    email: str = strawberry.field(
        description=f"The e-mail address to sign in with, at most {MAX_EMAIL} characters; "
        "unique in any letter case (else EMAIL_TAKEN)."
    )
    password: str = strawberry.field(description=f"{MIN_PASSWORD} to {MAX_PASSWORD:,} characters.")


@strawberry.input(description="The credentials of an account.")
class LoginInput:
    email: str = strawberry.field(description="The account's e-mail address, in any letter case.")
    password: str = strawberry.field(description="The account's password.")


@strawberry.input(description="A new API token of the viewer's.")
class CreateApiTokenInput:
    name: str = strawberry.field(
        description=f"A name to tell the token apart, 1 to {MAX_TITLE} characters."
    )
    scopes: list[Scope] = strawberry.field(
        description="What it may do, at least one scope; none that the calling token lacks "
        "(NOT_PERMITTED)."
    )


@strawberry.input(description="The token to revoke.")
class RevokeApiTokenInput:
    id: strawberry.ID = strawberry.field(
        description="The global id of an API token or session of the viewer's."
    )


# contracts and milestones


@strawberry.input(
    description="A milestone of a new contract: fixed-price with `amount`, or piece-rate with "
    "`unitPrice` and `maxUnits`."
)
class MilestoneInput:
    title: str = strawberry.field(description=f"1 to {MAX_TITLE} characters (trimmed).")
    description: str | None = _text("What the milestone delivers")
    amount: Decimal | None = _optional_amount(
        "Its price, at least `Policy.minimumMilestoneAmount`; required for a fixed-price "
        "milestone, and on a piece-rate one, if given, equal to `unitPrice` times `maxUnits`"
    )
    due_date: date | None = optional("When the work is due; informative. Optional.")
    unit_price: Decimal | None = _optional_amount(
        "A piece-rate milestone's price per unit (with `maxUnits`); null for fixed price"
    )
    max_units: int | None = optional(
        "The most units a piece-rate milestone pays, at least 1 (with `unitPrice`)."
    )


@strawberry.input(description="An offer of a contract, made by the viewer as its client.")
class CreateContractInput:
    freelancer_id: strawberry.ID = strawberry.field(
        description="The global id of the user offered the work; not the viewer."
    )
    title: str = strawberry.field(description=f"1 to {MAX_TITLE} characters (trimmed).")
    description: str | None = _text("What the contract is about")
    currency: str | None = optional(
        f"The ISO 4217 code of every amount of the contract, one of "
        f"{', '.join(sorted(CURRENCIES))}; USD when left out. Fixed for the contract's life."
    )
    milestones: list[MilestoneInput] = strawberry.field(
        description="Its milestones in order, 1 to `Policy.maxMilestonesPerContract`."
    )


@strawberry.input(description="The offer the freelancer accepts.")
class AcceptContractInput:
    contract_id: strawberry.ID = _id("contract", "`OFFERED`")


@strawberry.input(description="The offer the freelancer declines.")
class DeclineContractInput:
    contract_id: strawberry.ID = _id("contract", "`OFFERED`")
    reason: str | None = _text("Why, shown to the client in the CONTRACT_DECLINED event")


@strawberry.input(description="The contract to end or the offer to withdraw.")
class EndContractInput:
    contract_id: strawberry.ID = _id("contract", "`OFFERED` (client) or `ACTIVE` (either party)")
    reason: str | None = _text("Why, shown in the CONTRACT_ENDED event")


@strawberry.input(description="A bonus paid by the client of an `ACTIVE` contract.")
class PayBonusInput:
    contract_id: strawberry.ID = _id("contract")
    amount: Decimal = _amount(
        "The bonus (fees are added to it); a contract's bonuses together are at most `MAX_AMOUNT`"
    )
    note: str | None = _text("A note to the freelancer, shown in the BONUS_PAID event")
    idempotency_key: str | None = _idempotency_key()


@strawberry.input(description="The milestone the client funds: the first `NOT_FUNDED` one.")
class FundMilestoneInput:
    milestone_id: strawberry.ID = _id("milestone", "the first `NOT_FUNDED` one by position")
    idempotency_key: str | None = _idempotency_key()


@strawberry.input(description="Work the freelancer submits on a `FUNDED` or revised milestone.")
class SubmitMilestoneInput:
    milestone_id: strawberry.ID = _id("milestone", "`FUNDED` or `REVISION_REQUESTED`")
    message: str | None = _text("A message to the client")
    attachments: list[str] | None = optional(
        f"Up to {MAX_ATTACHMENTS} absolute http(s) URLs of the work, each at most "
        f"{MAX_URL:,} characters. Optional."
    )
    requested_amount: Decimal | None = _optional_amount(
        "What to be paid for it; by default the milestone's `fundedAmount` (piece-rate: must "
        "equal `units` times `unitPrice`)"
    )
    units: int | None = optional(
        "Units delivered: required on a piece-rate milestone (1 to the units that remain), "
        "refused on a fixed-price one."
    )


@strawberry.input(description="The client's request for changes to submitted work.")
class RequestRevisionInput:
    milestone_id: strawberry.ID = _id("milestone", "`SUBMITTED`")
    message: str | None = _text("What to change")


@strawberry.input(description="A payment of escrow to the freelancer by the client.")
class ReleaseMilestoneInput:
    milestone_id: strawberry.ID = _id("milestone", _UNDER_WAY)
    amount: Decimal | None = _optional_amount(
        "What to pay, gross; by default the submission's `requestedAmount` when `SUBMITTED`, "
        "else the whole remaining escrow. More than remains is charged to the client first"
    )
    end_contract: bool = strawberry.field(
        default=False,
        description="Also end the contract once paid (only when no `NOT_FUNDED` milestone is "
        "left). Default false.",
    )
    idempotency_key: str | None = _idempotency_key()


@strawberry.input(description="The piece-rate milestone the client ends early.")
class CompleteMilestoneInput:
    milestone_id: strawberry.ID = _id("piece-rate milestone", "`FUNDED` or `REVISION_REQUESTED`")


# change requests, refunds and disputes


@strawberry.input(
    description="One change of a change request; the fields it does not use are left out."
)
class MilestoneChangeInput:
    action: ChangeAction = strawberry.field(description="What the change does.")
    milestone_id: strawberry.ID | None = optional(
        "The global id of the `NOT_FUNDED` milestone to update, delete or move; left out for ADD."
    )
    title: str | None = optional(f"A new title, 1 to {MAX_TITLE} characters. Optional.")
    description: str | None = _text("A new description")
    amount: Decimal | None = _optional_amount(
        "A new amount (ADD of a fixed-price milestone: required)"
    )
    due_date: date | None = optional("A new due date. Optional.")
    position: int | None = optional(
        "Where to insert (ADD; appended when left out) or move to (MOVE: required), from 1; "
        "not at or before an active or finished milestone."
    )
    unit_price: Decimal | None = _optional_amount("A new price per unit (piece-rate)")
    max_units: int | None = optional("A new most units (piece-rate), at least 1. Optional.")


@strawberry.input(description="Changes to an `ACTIVE` contract's future milestones.")
class ProposeMilestoneChangesInput:
    contract_id: strawberry.ID = _id("contract")
    message: str | None = _text("Why, for the other party")
    changes: list[MilestoneChangeInput] = strawberry.field(
        description=f"1 to {MAX_CHANGES} changes, applied in this order, each to the result of "
        "the one before."
    )


@strawberry.input(description="The change request the other party accepts.")
class AcceptChangeRequestInput:
    change_request_id: strawberry.ID = _id("change request", "`PENDING`")


@strawberry.input(description="The change request the other party declines.")
class DeclineChangeRequestInput:
    change_request_id: strawberry.ID = _id("change request", "`PENDING`")
    reason: str | None = _text("Why, for the proposer")


@strawberry.input(description="The change request its proposer withdraws.")
class WithdrawChangeRequestInput:
    change_request_id: strawberry.ID = _id("change request", "`PENDING`")


@strawberry.input(description="The client's request for an active milestone's escrow back.")
class RequestRefundInput:
    milestone_id: strawberry.ID = _id("milestone", _UNDER_WAY)
    amount: Decimal | None = _optional_amount(
        "How much, at most the remaining escrow; all of it when left out"
    )
    reason: str | None = _text("Why, for the freelancer")


@strawberry.input(description="The freelancer's answer to a pending refund request.")
class RespondToRefundRequestInput:
    refund_request_id: strawberry.ID = _id("refund request", "`PENDING`")
    approve: bool = strawberry.field(
        description="True: the amount goes back to the client. False: the milestone carries on."
    )
    message: str | None = _text("A message to the client")


@strawberry.input(description="A dispute over an active milestone, opened by a party.")
class OpenDisputeInput:
    milestone_id: strawberry.ID = _id("milestone", _UNDER_WAY)
    reason: str = strawberry.field(description=f"Why, for the admin: not blank; {_TEXT}.")


@strawberry.input(description="The dispute its opener withdraws.")
class WithdrawDisputeInput:
    dispute_id: strawberry.ID = _id("dispute", "`OPEN`")


@strawberry.input(
    description="An admin's split of a disputed milestone's remaining escrow; the two parts "
    "must add up to it exactly."
)
class ResolveDisputeInput:
    dispute_id: strawberry.ID = _id("dispute", "`OPEN`")
    freelancer_amount: Decimal = _amount(
        "The part released to the freelancer (the service fee applies); may be zero"
    )
    client_amount: Decimal = _amount("The part refunded to the client; may be zero")
    note: str | None = _text("The admin's note, shown in the DISPUTE_RESOLVED event")
    idempotency_key: str | None = _idempotency_key()
