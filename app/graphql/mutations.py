"""Every mutation, one row each: its name and description, its `NameInput` type (inputs.py),
the shape of its `NamePayload` type (outcomes.py), the global ids its input holds, and the
service it calls. How a row runs (credentials, ids, refusals as userErrors, fresh loaders and
the payload read) is `mutation_fields.MutationRow`; the rows' order is the schema's."""

from __future__ import annotations

from typing import Any

from app.graphql.inputs import (
    AcceptChangeRequestInput,
    AcceptContractInput,
    CompleteMilestoneInput,
    CreateApiTokenInput,
    CreateContractInput,
    DeclineChangeRequestInput,
    DeclineContractInput,
    EndContractInput,
    FundMilestoneInput,
    LoginInput,
    OpenDisputeInput,
    PayBonusInput,
    ProposeMilestoneChangesInput,
    RegisterInput,
    ReleaseMilestoneInput,
    RequestRefundInput,
    RequestRevisionInput,
    ResolveDisputeInput,
    RespondToRefundRequestInput,
    RevokeApiTokenInput,
    SubmitMilestoneInput,
    WithdrawChangeRequestInput,
    WithdrawDisputeInput,
)
from app.graphql.mutation_fields import GlobalId, MutationRow, anonymous, mutation
from app.graphql.outcomes import (
    ApiTokenPayload,
    AuthPayload,
    ChangeRequestPayload,
    ContractPayload,
    DisputePayload,
    IssuedTokenPayload,
    MilestonePayload,
    RefundRequestPayload,
)
from app.services import accounts, contracts, requests

CONTRACT = {"contract_id": GlobalId("Contract")}
MILESTONE = {"milestone_id": GlobalId("Milestone")}
CHANGE_REQUEST = {"change_request_id": GlobalId("ChangeRequest")}
REFUND_REQUEST = {"refund_request_id": GlobalId("RefundRequest")}
DISPUTE = {"dispute_id": GlobalId("Dispute")}

MUTATIONS: list[MutationRow[Any, Any]] = [
    # accounts
    mutation(
        "register",
        "Create an account; returns a session token, which expires after `SESSION_TTL`. "
        "Attempts are limited per client address and per e-mail address.",
        RegisterInput,
        AuthPayload,
        lambda c, i: accounts.register(
            c.runtime, name=i.name, email=i.email, password=i.password, session_ttl=c.session_ttl
        ),
        login_email=lambda i: i.email,
    ),
    mutation(
        "login",
        "Exchange an e-mail address and password for a session token, which expires after "
        "`SESSION_TTL` and is listed in `apiTokens`. Attempts are limited per client address "
        "and per e-mail address.",
        LoginInput,
        AuthPayload,
        lambda c, i: accounts.login(
            c.runtime, email=i.email, password=i.password, session_ttl=c.session_ttl
        ),
        login_email=lambda i: i.email,
    ),
    mutation(
        "createApiToken",
        None,
        CreateApiTokenInput,
        IssuedTokenPayload,
        lambda c, i: accounts.create_api_token(
            c.runtime, c.principal, name=i.name, scopes=list(i.scopes)
        ),
    ),
    mutation(
        "revokeApiToken",
        "Revoke an API token or a session of the viewer's: it stops working at once over HTTP, "
        "and within a second on every WebSocket open with it (its subscriptions end with "
        "UNAUTHENTICATED and the socket closes with 4403).",
        RevokeApiTokenInput,
        ApiTokenPayload,
        lambda c, i: accounts.revoke_api_token(c.runtime, c.principal, c.ids["id"]),
        ids={"id": GlobalId("ApiToken", "token")},
    ),
    # contracts and milestones
    mutation(
        "createContract",
        "Offer a contract to a freelancer, with its milestones.",
        CreateContractInput,
        ContractPayload,
        lambda c, i: contracts.create_contract(
            c.runtime,
            c.actor,
            freelancer_id=c.ids["freelancer_id"],
            title=i.title,
            description=i.description,
            currency=i.currency,
            milestones=[m.draft() for m in i.milestones],
        ),
        ids={"freelancer_id": GlobalId("User", "freelancer")},
    ),
    mutation(
        "acceptContract",
        "The freelancer accepts an offer.",
        AcceptContractInput,
        ContractPayload,
        lambda c, i: contracts.accept_contract(c.runtime, c.actor, c.ids["contract_id"]),
        ids=CONTRACT,
    ),
    mutation(
        "declineContract",
        "The freelancer declines an offer; everything is refunded.",
        DeclineContractInput,
        ContractPayload,
        lambda c, i: contracts.decline_contract(
            c.runtime, c.actor, c.ids["contract_id"], i.reason
        ),
        ids=CONTRACT,
    ),
    mutation(
        "endContract",
        "End an active contract, or withdraw an offer.",
        EndContractInput,
        ContractPayload,
        lambda c, i: contracts.end_contract(c.runtime, c.actor, c.ids["contract_id"], i.reason),
        ids=CONTRACT,
    ),
    mutation(
        "payBonus",
        "Pay the freelancer a bonus; it bypasses escrow.",
        PayBonusInput,
        ContractPayload,
        lambda c, i: contracts.pay_bonus(
            c.runtime,
            c.actor,
            c.ids["contract_id"],
            amount=i.amount,
            note=i.note,
            idempotency_key=i.idempotency_key,
        ),
        ids=CONTRACT,
    ),
    mutation(
        "fundMilestone",
        "The client funds the next milestone into escrow.",
        FundMilestoneInput,
        MilestonePayload,
        lambda c, i: contracts.fund_milestone(
            c.runtime, c.actor, c.ids["milestone_id"], i.idempotency_key
        ),
        ids=MILESTONE,
    ),
    mutation(
        "submitMilestone",
        "The freelancer submits work on the active milestone.",
        SubmitMilestoneInput,
        MilestonePayload,
        lambda c, i: contracts.submit_milestone(
            c.runtime,
            c.actor,
            c.ids["milestone_id"],
            message=i.message,
            attachments=i.attachments or [],
            requested_amount=i.requested_amount,
            units=i.units,
        ),
        ids=MILESTONE,
    ),
    mutation(
        "requestRevision",
        "The client asks for changes to submitted work.",
        RequestRevisionInput,
        MilestonePayload,
        lambda c, i: contracts.request_revision(
            c.runtime, c.actor, c.ids["milestone_id"], i.message
        ),
        ids=MILESTONE,
    ),
    mutation(
        "releaseMilestone",
        "The client releases escrow to the freelancer.",
        ReleaseMilestoneInput,
        MilestonePayload,
        lambda c, i: contracts.release_milestone(
            c.runtime,
            c.actor,
            c.ids["milestone_id"],
            amount=i.amount,
            end_contract=i.end_contract,
            idempotency_key=i.idempotency_key,
        ),
        ids=MILESTONE,
    ),
    mutation(
        "completeMilestone",
        "The client ends a piece-rate milestone; its unpaid escrow becomes available.",
        CompleteMilestoneInput,
        MilestonePayload,
        lambda c, i: contracts.complete_milestone(c.runtime, c.actor, c.ids["milestone_id"]),
        ids=MILESTONE,
    ),
    # change requests, refunds and disputes
    mutation(
        "proposeMilestoneChanges",
        "Propose changes to future milestones of an active contract.",
        ProposeMilestoneChangesInput,
        ChangeRequestPayload,
        lambda c, i: requests.propose_changes(
            c.runtime,
            c.actor,
            c.ids["contract_id"],
            changes=[change.draft() for change in i.changes],
            message=i.message,
        ),
        ids=CONTRACT,
    ),
    mutation(
        "acceptChangeRequest",
        "The other party accepts: every change applies at once.",
        AcceptChangeRequestInput,
        ChangeRequestPayload,
        lambda c, i: requests.accept_change_request(
            c.runtime, c.actor, c.ids["change_request_id"]
        ),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "declineChangeRequest",
        "The other party declines the change request.",
        DeclineChangeRequestInput,
        ChangeRequestPayload,
        lambda c, i: requests.decline_change_request(
            c.runtime, c.actor, c.ids["change_request_id"], i.reason
        ),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "withdrawChangeRequest",
        "The proposer withdraws the change request.",
        WithdrawChangeRequestInput,
        ChangeRequestPayload,
        lambda c, i: requests.withdraw_change_request(
            c.runtime, c.actor, c.ids["change_request_id"]
        ),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "requestRefund",
        "The client asks for an active milestone's escrow back.",
        RequestRefundInput,
        RefundRequestPayload,
        lambda c, i: requests.request_refund(
            c.runtime, c.actor, c.ids["milestone_id"], amount=i.amount, reason=i.reason
        ),
        ids=MILESTONE,
    ),
    mutation(
        "respondToRefundRequest",
        "The freelancer approves or declines a refund request.",
        RespondToRefundRequestInput,
        RefundRequestPayload,
        lambda c, i: requests.answer_refund(
            c.runtime, c.actor, c.ids["refund_request_id"], approve=i.approve, message=i.message
        ),
        ids=REFUND_REQUEST,
    ),
    mutation(
        "openDispute",
        "Either party freezes the active milestone for an admin.",
        OpenDisputeInput,
        DisputePayload,
        lambda c, i: requests.open_dispute(c.runtime, c.actor, c.ids["milestone_id"], i.reason),
        ids=MILESTONE,
    ),
    mutation(
        "withdrawDispute",
        "Who opened the dispute withdraws it.",
        WithdrawDisputeInput,
        DisputePayload,
        lambda c, i: requests.withdraw_dispute(c.runtime, c.actor, c.ids["dispute_id"]),
        ids=DISPUTE,
    ),
    mutation(
        "resolveDispute",
        "An admin splits the disputed escrow between the parties.",
        ResolveDisputeInput,
        DisputePayload,
        lambda c, i: requests.resolve_dispute(
            c.runtime,
            c.actor,
            c.ids["dispute_id"],
            freelancer_amount=i.freelancer_amount,
            client_amount=i.client_amount,
            note=i.note,
            idempotency_key=i.idempotency_key,
        ),
        ids=DISPUTE,
    ),
]

ANONYMOUS_MUTATIONS = anonymous(MUTATIONS)  # register and login: the only ones that need no token
