"""Every mutation, one row each: its name and description, its `NameInput` type (inputs.py;
notice_inputs.py for notifications and webhooks), the command it is read into
(`app.domain.commands`, the account ones in `app.services.accounts`, the notification and
webhook ones in `app.graphql.notice_commands`), the shape of its `NamePayload` type
(outcomes.py; notifications.py, webhooks.py), the global ids its input holds, and the service
it calls with the command. How a row runs (credentials, reading the command, refusals as
userErrors, fresh loaders and the payload read) is `mutation_fields.MutationRow`; the rows'
order is the schema's."""

from __future__ import annotations

from typing import Any

from app.domain import commands
from app.graphql.commands import GlobalId
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
from app.graphql.mutation_fields import MutationRow, anonymous, mutation
from app.graphql.notice_commands import (
    CreateWebhookEndpoint,
    DeleteWebhookEndpoint,
    MarkNotificationsRead,
    RedeliverWebhook,
    RotateWebhookSecret,
    SendTestWebhook,
    UpdateNotificationSettings,
    UpdateWebhookEndpoint,
)
from app.graphql.notice_inputs import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointInput,
    MarkNotificationsReadInput,
    RedeliverWebhookInput,
    RotateWebhookSecretInput,
    SendTestWebhookInput,
    UpdateNotificationSettingsInput,
    UpdateWebhookEndpointInput,
)
from app.graphql.notifications import MarkedReadPayload, NotificationSettingsPayload
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
from app.graphql.webhooks import DeliveryPayload, IssuedSecretPayload, WebhookEndpointPayload
from app.services import accounts, contracts, notifications, requests, webhooks

CONTRACT = {"contract_id": GlobalId("Contract")}
MILESTONE = {"milestone_id": GlobalId("Milestone")}
CHANGE_REQUEST = {"change_request_id": GlobalId("ChangeRequest")}
REFUND_REQUEST = {"refund_request_id": GlobalId("RefundRequest")}
DISPUTE = {"dispute_id": GlobalId("Dispute")}
ENDPOINT = {"id": GlobalId("WebhookEndpoint", "webhook endpoint")}

MUTATIONS: list[MutationRow[Any, Any, Any]] = [
    # accounts
    mutation(
        "register",
        "Create an account; returns a session token, which expires after `SESSION_TTL`. "
        "Attempts are limited per client address and per e-mail address.",
        RegisterInput,
        accounts.Register,
        AuthPayload,
        lambda c, cmd: accounts.register(c.runtime, cmd, session_ttl=c.session_ttl),
        login_email=lambda i: i.email,
    ),
    mutation(
        "login",
        "Exchange an e-mail address and password for a session token, which expires after "
        "`SESSION_TTL` and is listed in `apiTokens`. Attempts are limited per client address "
        "and per e-mail address.",
        LoginInput,
        accounts.Login,
        AuthPayload,
        lambda c, cmd: accounts.login(c.runtime, cmd, session_ttl=c.session_ttl),
        login_email=lambda i: i.email,
    ),
    mutation(
        "createApiToken",
        "Issue an API token of the viewer's for a script or an integration, with the scopes "
        "given (none that the calling token lacks). The secret is in `token`, shown this once.",
        CreateApiTokenInput,
        accounts.CreateApiToken,
        IssuedTokenPayload,
        lambda c, cmd: accounts.create_api_token(c.runtime, c.principal, cmd),
    ),
    mutation(
        "revokeApiToken",
        "Revoke an API token or a session of the viewer's: over HTTP it stops working at once "
        "on the server process that revoked it and within a second on every other, and within "
        "a second on every WebSocket open with it (its subscriptions end with UNAUTHENTICATED "
        "and the socket closes with 4403).",
        RevokeApiTokenInput,
        accounts.RevokeApiToken,
        ApiTokenPayload,
        lambda c, cmd: accounts.revoke_api_token(c.runtime, c.principal, cmd),
        ids={"id": GlobalId("ApiToken", "token")},
    ),
    # contracts and milestones
    mutation(
        "createContract",
        "Offer a contract to a freelancer, with its milestones.",
        CreateContractInput,
        commands.CreateContract,
        ContractPayload,
        lambda c, cmd: contracts.create_contract(c.runtime, c.actor, cmd),
        ids={"freelancer_id": GlobalId("User", "freelancer")},
    ),
    mutation(
        "acceptContract",
        "The freelancer accepts an offer.",
        AcceptContractInput,
        commands.AcceptContract,
        ContractPayload,
        lambda c, cmd: contracts.accept_contract(c.runtime, c.actor, cmd),
        ids=CONTRACT,
    ),
    mutation(
        "declineContract",
        "The freelancer declines an offer; everything is refunded.",
        DeclineContractInput,
        commands.DeclineContract,
        ContractPayload,
        lambda c, cmd: contracts.decline_contract(c.runtime, c.actor, cmd),
        ids=CONTRACT,
    ),
    mutation(
        "endContract",
        "End an active contract, or withdraw an offer.",
        EndContractInput,
        commands.EndContract,
        ContractPayload,
        lambda c, cmd: contracts.end_contract(c.runtime, c.actor, cmd),
        ids=CONTRACT,
    ),
    mutation(
        "payBonus",
        "Pay the freelancer a bonus; it bypasses escrow.",
        PayBonusInput,
        commands.PayBonus,
        ContractPayload,
        lambda c, cmd: contracts.pay_bonus(c.runtime, c.actor, cmd),
        ids=CONTRACT,
    ),
    mutation(
        "fundMilestone",
        "The client funds the next milestone into escrow.",
        FundMilestoneInput,
        commands.FundMilestone,
        MilestonePayload,
        lambda c, cmd: contracts.fund_milestone(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "submitMilestone",
        "The freelancer submits work on the active milestone.",
        SubmitMilestoneInput,
        commands.SubmitMilestone,
        MilestonePayload,
        lambda c, cmd: contracts.submit_milestone(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "requestRevision",
        "The client asks for changes to submitted work.",
        RequestRevisionInput,
        commands.RequestRevision,
        MilestonePayload,
        lambda c, cmd: contracts.request_revision(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "releaseMilestone",
        "The client releases escrow to the freelancer.",
        ReleaseMilestoneInput,
        commands.ReleaseMilestone,
        MilestonePayload,
        lambda c, cmd: contracts.release_milestone(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "completeMilestone",
        "The client ends a piece-rate milestone; its unpaid escrow becomes available.",
        CompleteMilestoneInput,
        commands.CompleteMilestone,
        MilestonePayload,
        lambda c, cmd: contracts.complete_milestone(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    # change requests, refunds and disputes
    mutation(
        "proposeMilestoneChanges",
        "Propose changes to future milestones of an active contract.",
        ProposeMilestoneChangesInput,
        commands.ProposeMilestoneChanges,
        ChangeRequestPayload,
        lambda c, cmd: requests.propose_changes(c.runtime, c.actor, cmd),
        ids={**CONTRACT, "changes.milestone_id": GlobalId("Milestone")},
    ),
    mutation(
        "acceptChangeRequest",
        "The other party accepts: every change applies at once.",
        AcceptChangeRequestInput,
        commands.AcceptChangeRequest,
        ChangeRequestPayload,
        lambda c, cmd: requests.accept_change_request(c.runtime, c.actor, cmd),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "declineChangeRequest",
        "The other party declines the change request.",
        DeclineChangeRequestInput,
        commands.DeclineChangeRequest,
        ChangeRequestPayload,
        lambda c, cmd: requests.decline_change_request(c.runtime, c.actor, cmd),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "withdrawChangeRequest",
        "The proposer withdraws the change request.",
        WithdrawChangeRequestInput,
        commands.WithdrawChangeRequest,
        ChangeRequestPayload,
        lambda c, cmd: requests.withdraw_change_request(c.runtime, c.actor, cmd),
        ids=CHANGE_REQUEST,
    ),
    mutation(
        "requestRefund",
        "The client asks for an active milestone's escrow back.",
        RequestRefundInput,
        commands.RequestRefund,
        RefundRequestPayload,
        lambda c, cmd: requests.request_refund(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "respondToRefundRequest",
        "The freelancer approves or declines a refund request.",
        RespondToRefundRequestInput,
        commands.RespondToRefundRequest,
        RefundRequestPayload,
        lambda c, cmd: requests.answer_refund(c.runtime, c.actor, cmd),
        ids=REFUND_REQUEST,
    ),
    mutation(
        "openDispute",
        "Either party freezes the active milestone for an admin.",
        OpenDisputeInput,
        commands.OpenDispute,
        DisputePayload,
        lambda c, cmd: requests.open_dispute(c.runtime, c.actor, cmd),
        ids=MILESTONE,
    ),
    mutation(
        "withdrawDispute",
        "Who opened the dispute withdraws it.",
        WithdrawDisputeInput,
        commands.WithdrawDispute,
        DisputePayload,
        lambda c, cmd: requests.withdraw_dispute(c.runtime, c.actor, cmd),
        ids=DISPUTE,
    ),
    mutation(
        "resolveDispute",
        "An admin splits the disputed escrow between the parties.",
        ResolveDisputeInput,
        commands.ResolveDispute,
        DisputePayload,
        lambda c, cmd: requests.resolve_dispute(c.runtime, c.actor, cmd),
        ids=DISPUTE,
    ),
    # notifications and webhooks: the viewer's own
    mutation(
        "markNotificationsRead",
        "Mark notifications of the viewer's read: those of `ids`, or `all`.",
        MarkNotificationsReadInput,
        MarkNotificationsRead,
        MarkedReadPayload,
        lambda c, cmd: notifications.mark_read(
            c.runtime, c.actor.user_id, ids=cmd.ids, all=cmd.all
        ),
        ids={"ids": GlobalId("Notification")},
    ),
    mutation(
        "updateNotificationSettings",
        "Choose, per type, whether the viewer's notifications are also e-mailed.",
        UpdateNotificationSettingsInput,
        UpdateNotificationSettings,
        NotificationSettingsPayload,
        lambda c, cmd: notifications.update_notification_settings(
            c.actor.user_id, {s.type: s.email for s in cmd.settings}
        ),
    ),
    mutation(
        "createWebhookEndpoint",
        "Register a webhook endpoint of the viewer's: it receives, signed, the events of every "
        "contract the viewer is a party to. Its signing secret is in `secret`, shown this once.",
        CreateWebhookEndpointInput,
        CreateWebhookEndpoint,
        IssuedSecretPayload,
        lambda c, cmd: webhooks.create_endpoint(
            c.runtime,
            c.actor,
            url=cmd.url,
            event_types=cmd.event_types,
            description=cmd.description,
        ),
    ),
    mutation(
        "updateWebhookEndpoint",
        "Change a webhook endpoint's URL, event types, description or whether it is enabled.",
        UpdateWebhookEndpointInput,
        UpdateWebhookEndpoint,
        WebhookEndpointPayload,
        lambda c, cmd: webhooks.update_endpoint(
            c.runtime,
            c.actor,
            cmd.id,
            url=cmd.url,
            event_types=cmd.event_types,
            description=cmd.description,
            enabled=cmd.enabled,
        ),
        ids=ENDPOINT,
    ),
    mutation(
        "deleteWebhookEndpoint",
        "Delete a webhook endpoint: nothing more is delivered to it. Returns it as it was.",
        DeleteWebhookEndpointInput,
        DeleteWebhookEndpoint,
        WebhookEndpointPayload,
        lambda c, cmd: webhooks.delete_endpoint(c.runtime, c.actor, cmd.id),
        ids=ENDPOINT,
    ),
    mutation(
        "rotateWebhookSecret",
        "Replace a webhook endpoint's signing secret: deliveries from now on are signed with "
        "the new one, in `secret`, shown this once.",
        RotateWebhookSecretInput,
        RotateWebhookSecret,
        IssuedSecretPayload,
        lambda c, cmd: webhooks.rotate_secret(c.runtime, c.actor, cmd.id),
        ids=ENDPOINT,
    ),
    mutation(
        "sendTestWebhook",
        "Queue a test message (`type: WEBHOOK_TEST`) to a webhook endpoint; its delivery is "
        "listed in `deliveries` like any other.",
        SendTestWebhookInput,
        SendTestWebhook,
        WebhookEndpointPayload,
        lambda c, cmd: webhooks.send_test(c.runtime, c.actor, cmd.id),
        ids=ENDPOINT,
    ),
    mutation(
        "redeliverWebhook",
        "Send a delivery's message again, with the same `webhook-id`, as a new delivery "
        "(attempt 1, retried on failure like the first).",
        RedeliverWebhookInput,
        RedeliverWebhook,
        DeliveryPayload,
        lambda c, cmd: webhooks.redeliver(c.runtime, c.actor, cmd.delivery_id),
        ids={"delivery_id": GlobalId("WebhookDelivery", "webhook delivery")},
    ),
]

ANONYMOUS_MUTATIONS = anonymous(MUTATIONS)  # register and login: the only ones that need no token
