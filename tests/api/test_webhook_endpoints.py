"""Webhook endpoints through the API (issue 11, points 4 and 5): registered by their owner,
who alone sees and changes them (anyone else: NOT_FOUND, as for an unknown id), the signing
secret shown once, unsafe URLs refused on `url`, and each endpoint's deliveries as a
connection, newest first. Delivery itself is the workers' (tests/services/test_outbox*.py);
here the delivery rows are those the events and mutations plan."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import Payload
from tests.api.people import Parties
from tests.api.scenarios import active
from tests.support import FrozenClock, make_runtime

URL = "http://127.0.0.1:9/hooks"  # loopback is allowed for these tests; nothing is sent

ENDPOINT = "id url eventTypes description enabled createdAt"
CREATE = f"""
mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} secret userErrors {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{
    webhookEndpoint {{ {ENDPOINT} }} userErrors {{ code field message }}
  }}
}}
"""
DELETE = f"""
mutation($id: ID!) {{
  deleteWebhookEndpoint(input: {{id: $id}}) {{
    webhookEndpoint {{ {ENDPOINT} }} userErrors {{ code field message }}
  }}
}}
"""
ROTATE = """
mutation($id: ID!) {
  rotateWebhookSecret(input: {id: $id}) {
    webhookEndpoint { id } secret userErrors { code field message }
  }
}
"""
SEND_TEST = """
mutation($id: ID!) {
  sendTestWebhook(input: {id: $id}) { webhookEndpoint { id } userErrors { code field message } }
}
"""
DELIVERY = "id eventId webhookId eventType attempt statusCode durationMs nextRetryAt "
DELIVERY += "responseExcerpt createdAt"
REDELIVER = f"""
mutation($id: ID!) {{
  redeliverWebhook(input: {{deliveryId: $id}}) {{
    delivery {{ {DELIVERY} }} userErrors {{ code field message }}
  }}
}}
"""
OWN = f"""
query {{
  viewer {{
    webhookEndpoints {{
      {ENDPOINT}
      deliveries(first: 10) {{ totalCount edges {{ node {{ {DELIVERY} }} }} }}
    }}
  }}
}}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url } } }"


@pytest.fixture
def runtime(clock: FrozenClock) -> Runtime:
    """The tests' runtime, with loopback webhook URLs allowed (WEBHOOK_ALLOW_LOOPBACK=true)."""
    return dataclasses.replace(make_runtime(clock), webhook_allow_loopback=True)


async def create(api: Api, token: str, **fields: Any) -> Payload:
    result = await api.raw(CREATE, {"input": {"url": URL, **fields}}, token)
    assert result.errors == [], result.errors
    assert result.data is not None
    payload: Payload = result.data["createWebhookEndpoint"]
    return payload


def refusal(payload: Payload) -> list[tuple[str, list[str]]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def own(api: Api, token: str) -> list[Payload]:
    endpoints: list[Payload] = (await api.ok(OWN, None, token))["viewer"]["webhookEndpoints"]
    return endpoints


async def test_the_owner_registers_an_endpoint_and_sees_its_secret_once(
    api: Api, parties: Parties
) -> None:
    # when the client registers an endpoint for two event types
    created = await create(
        api,
        parties.client.token,
        eventTypes=["MILESTONE_RELEASED", "MILESTONE_FUNDED"],
        description="bookkeeping",
    )

    # then it is the client's, with a Standard Webhooks secret in this payload only
    assert created["userErrors"] == []
    endpoint = created["webhookEndpoint"]
    assert created["secret"].startswith("whsec_")
    assert (endpoint["url"], endpoint["description"], endpoint["enabled"]) == (
        URL,
        "bookkeeping",
        True,
    )
    assert sorted(endpoint["eventTypes"]) == ["MILESTONE_FUNDED", "MILESTONE_RELEASED"]
    [listed] = await own(api, parties.client.token)
    assert {k: listed[k] for k in endpoint} == endpoint
    assert "secret" not in listed
    assert await own(api, parties.freelancer.token) == []


async def test_only_the_owner_sees_an_endpoint(api: Api, parties: Parties) -> None:
    # given the client's endpoint
    endpoint = (await create(api, parties.client.token))["webhookEndpoint"]

    # when each person reads it by id
    seen = {
        who: (await api.ok(NODE, {"id": endpoint["id"]}, member.token))["node"]
        for who, member in [
            ("client", parties.client),
            ("freelancer", parties.freelancer),
            ("outsider", parties.outsider),
            ("admin", parties.admin),
        ]
    }

    # then
    assert seen == {
        "client": {"id": endpoint["id"], "url": URL},
        "freelancer": None,
        "outsider": None,
        "admin": None,
    }


@pytest.mark.parametrize("who", ["freelancer", "outsider", "admin"])
async def test_anyone_elses_endpoint_is_not_found_and_unchanged(
    api: Api, parties: Parties, who: str
) -> None:
    # given the client's endpoint
    endpoint = (await create(api, parties.client.token))["webhookEndpoint"]
    token = getattr(parties, who).token

    # when someone else updates, rotates, tests and deletes it
    update = {"input": {"id": endpoint["id"], "description": "mine now", "enabled": False}}
    answers = [
        (await api.raw(UPDATE, update, token)).data,
        (await api.raw(ROTATE, {"id": endpoint["id"]}, token)).data,
        (await api.raw(SEND_TEST, {"id": endpoint["id"]}, token)).data,
        (await api.raw(DELETE, {"id": endpoint["id"]}, token)).data,
    ]

    # then each is NOT_FOUND on `id`, with no secret, and the endpoint is as it was
    for data in answers:
        assert data is not None
        [payload] = data.values()
        assert refusal(payload) == [("NOT_FOUND", ["id"])]
        assert payload["userErrors"][0]["message"] == "No such webhook endpoint"
        assert payload.get("secret") is None
    [kept] = await own(api, parties.client.token)
    assert (kept["description"], kept["enabled"]) == ("", True)
    assert kept["deliveries"]["totalCount"] == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hooks",  # not https
        "https://10.0.0.1/hooks",  # private
        "https://169.254.169.254/latest",  # metadata
        "https://user:secret@127.0.0.1/hooks",  # credentials in the URL
        "not a url",
    ],
)
async def test_an_unsafe_url_is_refused_on_url(api: Api, parties: Parties, url: str) -> None:
    created = await create(api, parties.client.token, url=url)
    assert refusal(created) == [("INVALID_INPUT", ["url"])]
    assert (created["webhookEndpoint"], created["secret"]) == (None, None)
    assert await own(api, parties.client.token) == []


async def test_the_owner_updates_rotates_and_deletes(api: Api, parties: Parties) -> None:
    # given
    created = await create(api, parties.client.token)
    endpoint_id = created["webhookEndpoint"]["id"]

    # when
    update = {"input": {"id": endpoint_id, "eventTypes": ["BONUS_PAID"], "enabled": False}}
    updated = (await api.ok(UPDATE, update, parties.client.token))["updateWebhookEndpoint"]
    rotated = (await api.ok(ROTATE, {"id": endpoint_id}, parties.client.token))[
        "rotateWebhookSecret"
    ]
    deleted = (await api.ok(DELETE, {"id": endpoint_id}, parties.client.token))[
        "deleteWebhookEndpoint"
    ]

    # then
    assert updated["webhookEndpoint"]["eventTypes"] == ["BONUS_PAID"]
    assert updated["webhookEndpoint"]["enabled"] is False
    assert rotated["secret"].startswith("whsec_")
    assert rotated["secret"] != created["secret"]
    assert deleted["webhookEndpoint"]["id"] == endpoint_id
    assert await own(api, parties.client.token) == []
    again = (await api.raw(DELETE, {"id": endpoint_id}, parties.client.token)).data
    assert again is not None
    assert refusal(again["deleteWebhookEndpoint"]) == [("NOT_FOUND", ["id"])]


async def test_events_and_tests_are_listed_as_deliveries_newest_first(
    api: Api, parties: Parties
) -> None:
    # given the freelancer's endpoint for every type
    endpoint_id = (await create(api, parties.freelancer.token))["webhookEndpoint"]["id"]

    # when a contract of the freelancer's is offered and accepted, and a test is sent
    await active(api, parties)
    await api.ok(SEND_TEST, {"id": endpoint_id}, parties.freelancer.token)

    # then three deliveries are planned, pending, the newest first
    [endpoint] = await own(api, parties.freelancer.token)
    deliveries = [e["node"] for e in endpoint["deliveries"]["edges"]]
    assert endpoint["deliveries"]["totalCount"] == 3
    assert [d["eventType"] for d in deliveries] == [
        "WEBHOOK_TEST",
        "CONTRACT_ACCEPTED",
        "CONTRACT_OFFERED",
    ]
    assert [d["attempt"] for d in deliveries] == [1, 1, 1]
    assert {d["statusCode"] for d in deliveries} == {None}
    assert deliveries[0]["eventId"] is None
    assert deliveries[1]["eventId"] is not None
    assert len({d["webhookId"] for d in deliveries}) == 3


async def test_a_redelivery_is_a_new_attempt_of_the_same_message(
    api: Api, parties: Parties
) -> None:
    # given the deliveries of a contract's two events to the client's endpoint (its owner's
    # own steps included)
    endpoint_id = (await create(api, parties.client.token))["webhookEndpoint"]["id"]
    await active(api, parties)
    [endpoint] = await own(api, parties.client.token)
    first, offered = [e["node"] for e in endpoint["deliveries"]["edges"]]
    assert offered["eventType"] == "CONTRACT_OFFERED"

    # when the client redelivers it, and someone else tries to
    again = (await api.ok(REDELIVER, {"id": first["id"]}, parties.client.token))[
        "redeliverWebhook"
    ]["delivery"]
    theirs = (await api.raw(REDELIVER, {"id": first["id"]}, parties.freelancer.token)).data

    # then
    assert again["id"] != first["id"]
    assert (again["webhookId"], again["eventType"], again["eventId"]) == (
        first["webhookId"],
        "CONTRACT_ACCEPTED",
        first["eventId"],
    )
    assert theirs is not None
    assert refusal(theirs["redeliverWebhook"]) == [("NOT_FOUND", ["deliveryId"])]
    [after] = await own(api, parties.client.token)
    assert after["deliveries"]["totalCount"] == 3
    assert endpoint_id == after["id"]


@pytest.mark.parametrize("given", ["nonsense", "Q29udHJhY3Q6MQ"])  # malformed; a Contract's id
async def test_an_id_of_no_endpoint_is_the_same_not_found(
    api: Api, parties: Parties, given: str
) -> None:
    data = (await api.raw(ROTATE, {"id": given}, parties.client.token)).data
    assert data is not None
    payload = data["rotateWebhookSecret"]
    assert refusal(payload) == [("NOT_FOUND", ["id"])]
    assert payload["userErrors"][0]["message"] == "No such webhook endpoint"
