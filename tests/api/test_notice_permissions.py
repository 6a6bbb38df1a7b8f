"""The notification and webhook mutations need a token with the WRITE scope, as every mutation
but register and login does: none is UNAUTHENTICATED, a READ-only one FORBIDDEN, and neither
changes anything."""

from __future__ import annotations

from typing import Any

import pytest

from app.auth.tokens import Scope
from app.db import models
from app.graphql.ids import encode_id
from app.services import accounts
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.support import make_person

ENDPOINT = {"id": encode_id("WebhookEndpoint", 1)}
MUTATIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "markNotificationsRead": ("MarkNotificationsReadInput", {"all": True}),
    "updateNotificationSettings": (
        "UpdateNotificationSettingsInput",
        {"settings": [{"type": "BONUS_PAID", "email": False}]},
    ),
    "createWebhookEndpoint": ("CreateWebhookEndpointInput", {"url": "https://127.0.0.1/h"}),
    "updateWebhookEndpoint": ("UpdateWebhookEndpointInput", {**ENDPOINT, "enabled": False}),
    "deleteWebhookEndpoint": ("DeleteWebhookEndpointInput", ENDPOINT),
    "rotateWebhookSecret": ("RotateWebhookSecretInput", ENDPOINT),
    "sendTestWebhook": ("SendTestWebhookInput", ENDPOINT),
    "redeliverWebhook": (
        "RedeliverWebhookInput",
        {"deliveryId": encode_id("WebhookDelivery", 1)},
    ),
}


def operation(name: str) -> str:
    input_type, _ = MUTATIONS[name]
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ code }} }} }}"
    )


async def nothing_written() -> None:
    assert await models.WebhookEndpoint.all().count() == 0
    assert await models.NotificationSetting.all().count() == 0


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_a_read_token_is_forbidden(api: Api, runtime: Runtime, name: str) -> None:
    carol = await make_person(runtime, "Carol")
    issued = await accounts.create_api_token(
        runtime,
        accounts.Principal(carol.actor.user_id, False, frozenset(Scope)),
        accounts.CreateApiToken(name="read", scopes=(Scope.READ,)),
    )
    result = await api.raw(operation(name), {"input": MUTATIONS[name][1]}, issued.secret)
    assert result.codes == ["FORBIDDEN"]
    await nothing_written()


@pytest.mark.parametrize("name", sorted(MUTATIONS))
async def test_no_token_is_unauthenticated(api: Api, name: str) -> None:
    result = await api.raw(operation(name), {"input": MUTATIONS[name][1]})
    assert result.codes == ["UNAUTHENTICATED"]
    await nothing_written()
