"""Webhook messages as the Standard Webhooks specification writes them, signed.

A message is `{"type", "timestamp", "data"}`; for a contract event `data` is the event as the
API shows it (global ids, `Money`), with the contract's id and the event's `sequence`, so a
receiver can order the events of a contract and drop a duplicate. Every attempt at one message
(retries, a redelivery) carries the same `webhook-id`, and a fresh `webhook-timestamp` and
signature: receivers refuse timestamps more than 5 minutes away from their clock.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from app.domain.money import format_amount

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64
TEST_TYPE = "WEBHOOK_TEST"


@dataclass(frozen=True)
class EventMessage:
    """A stored contract event, its ids already global (as `node(id)` takes them)."""

    event_id: str
    contract_id: str
    sequence: int
    type: str
    occurred_at: datetime
    actor_id: str | None
    milestone_id: str | None
    amount: int | None
    currency: str
    message: str | None


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id(endpoint_id: int, contract_id: int, sequence: int) -> str:
    """One id per event and endpoint, kept by every attempt to deliver it there; known before
    the event's row has its id, so the outbox row is written in the same statement batch."""
    return f"msg_{endpoint_id}_{contract_id}_{sequence}"


def _timestamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _body(kind: str, at: datetime, data: Mapping[str, Any]) -> str:
    payload = {"type": kind, "timestamp": _timestamp(at), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def event_body(event: EventMessage) -> str:
    amount = None
    if event.amount is not None:
        amount = {"amount": format_amount(event.amount), "currency": event.currency}
    return _body(
        event.type,
        event.occurred_at,
        {
            "id": event.event_id,
            "contractId": event.contract_id,
            "sequence": event.sequence,
            "type": event.type,
            "occurredAt": _timestamp(event.occurred_at),
            "actorId": event.actor_id,
            "milestoneId": event.milestone_id,
            "amount": amount,
            "message": event.message,
        },
    )


def ping_body(endpoint_id: str, at: datetime) -> str:
    """What `sendTestWebhook` sends: no event, only the endpoint it was sent to."""
    return _body(TEST_TYPE, at, {"endpointId": endpoint_id})


def signed_headers(secret: str, msg_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at.astimezone(UTC), body),
    }
