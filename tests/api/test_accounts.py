"""Accounts: registration, login, API tokens, and who sees an e-mail address."""

from __future__ import annotations

import json

from app.db import models
from app.graphql.ids import encode_id
from tests.api.client import Api
from tests.api.operations import (
    API_TOKENS,
    CONTRACT,
    CREATE_API_TOKEN,
    NODE,
    POLICY,
    REVOKE_API_TOKEN,
    VIEWER,
    create_api_token,
    raw_login,
    raw_register,
    raw_revoke_api_token,
    refusal,
    register,
    revoke_api_token,
)
from tests.api.people import Parties
from tests.api.scenarios import offered

PASSWORD = "a long enough secret"


async def test_register_creates_a_user_with_an_argon2_hash_and_a_working_token(api: Api) -> None:
    # when
    payload = await register(api, "Grace", "Grace@Example.com", PASSWORD)

    # then
    assert payload["user"]["name"] == "Grace"
    assert payload["user"]["email"] == "grace@example.com"
    assert payload["user"]["isAdmin"] is False
    viewer = await api.ok(VIEWER, token=payload["token"])
    assert viewer["viewer"]["id"] == payload["user"]["id"]
    row = await models.User.get(email="grace@example.com")
    assert row.password_hash.startswith("$argon2")
    assert PASSWORD not in row.password_hash


async def test_register_refuses_an_email_already_taken_whatever_its_case(api: Api) -> None:
    await register(api, "Grace", "grace@example.com", PASSWORD)

    payload = await raw_register(api, "Other Grace", "GRACE@example.com", PASSWORD)

    assert refusal(payload) == [("EMAIL_TAKEN", ["email"])]
    assert payload["user"] is None
    assert payload["token"] is None


async def test_register_reports_every_bad_field_at_once(api: Api) -> None:
    payload = await raw_register(api, "", "not-an-email", "short")

    assert sorted(refusal(payload)) == [
        ("INVALID_INPUT", ["email"]),
        ("INVALID_INPUT", ["name"]),
        ("INVALID_INPUT", ["password"]),
    ]
    assert payload["user"] is None
    assert await models.User.all().count() == 0


async def test_register_refuses_a_bad_email_alone(api: Api) -> None:
    payload = await raw_register(api, "Grace", "grace@", PASSWORD)

    assert refusal(payload) == [("INVALID_INPUT", ["email"])]


async def test_register_refuses_a_password_shorter_than_eight_characters(api: Api) -> None:
    payload = await raw_register(api, "Grace", "grace@example.com", "1234567")

    assert refusal(payload) == [("INVALID_INPUT", ["password"])]


async def test_login_with_the_right_password_returns_a_working_token(api: Api) -> None:
    registered = await register(api, "Grace", "grace@example.com", PASSWORD)

    payload = await raw_login(api, "grace@example.com", PASSWORD)

    assert payload["userErrors"] == []
    assert payload["user"]["id"] == registered["user"]["id"]
    assert payload["user"]["email"] == "grace@example.com"
    assert payload["token"] != registered["token"]
    viewer = await api.ok(VIEWER, token=payload["token"])
    assert viewer["viewer"]["email"] == "grace@example.com"


async def test_login_refuses_a_wrong_password_and_an_unknown_email_alike(api: Api) -> None:
    await register(api, "Grace", "grace@example.com", PASSWORD)

    wrong_password = await raw_login(api, "grace@example.com", "not the password")
    unknown_email = await raw_login(api, "nobody@example.com", PASSWORD)

    assert [e["code"] for e in wrong_password["userErrors"]] == ["INVALID_CREDENTIALS"]
    assert wrong_password["userErrors"] == unknown_email["userErrors"]
    for payload in (wrong_password, unknown_email):
        assert payload["user"] is None
        assert payload["token"] is None


async def test_register_login_and_policy_need_no_token(api: Api) -> None:
    registered = await raw_register(api, "Grace", "grace@example.com", PASSWORD)
    logged_in = await raw_login(api, "grace@example.com", PASSWORD)
    policy = await api.raw(POLICY)

    assert registered["userErrors"] == []
    assert logged_in["userErrors"] == []
    assert policy.errors == []
    assert policy.data is not None
    assert policy.data["policy"]["maxMilestonesPerContract"] == 200


async def test_policy_shows_the_defaults_as_money_and_decimal_strings(api: Api) -> None:
    data = await api.ok(POLICY)

    assert data["policy"] == {
        "minimumMilestoneAmount": {"amount": "5.00", "currency": "USD"},
        "maxMilestonesPerContract": 200,
        "autoReleaseAfterSeconds": 14 * 24 * 3600,
        "refundResponseSeconds": 7 * 24 * 3600,
        "contractInitiationFee": {"amount": "4.95", "currency": "USD"},
        "clientProcessingFeePercent": "3.00",
        "freelancerServiceFeePercent": "10.00",
    }


async def test_a_query_without_a_token_is_unauthenticated(api: Api) -> None:
    result = await api.raw(VIEWER)

    assert result.codes == ["UNAUTHENTICATED"]
    assert result.data is None


async def test_a_bad_token_is_unauthenticated_for_queries_and_mutations(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties)

    query = await api.raw(VIEWER, token="mse_not-a-real-token")
    read = await api.raw(CONTRACT, {"id": contract["id"]}, token="garbage")
    mutation = await api.raw(
        CREATE_API_TOKEN, {"input": {"name": "ci", "scopes": ["READ"]}}, token="garbage"
    )

    assert query.codes == ["UNAUTHENTICATED"]
    assert read.codes == ["UNAUTHENTICATED"]
    assert mutation.codes == ["UNAUTHENTICATED"]


async def test_create_api_token_shows_the_secret_once(api: Api, parties: Parties) -> None:
    # when
    payload = await create_api_token(api, parties.client.token, "reporting", ["READ"])

    # then
    secret = payload["token"]
    assert secret
    assert payload["apiToken"]["name"] == "reporting"
    assert payload["apiToken"]["scopes"] == ["READ"]
    listed = await api.ok(API_TOKENS, token=parties.client.token)
    assert payload["apiToken"]["id"] in [t["id"] for t in listed["apiTokens"]]
    node = await api.ok(NODE, {"id": payload["apiToken"]["id"]}, token=parties.client.token)
    assert node["node"]["id"] == payload["apiToken"]["id"]
    assert secret not in json.dumps(listed)
    assert secret not in json.dumps(node)


async def test_a_read_token_can_query(api: Api, parties: Parties) -> None:
    contract = await offered(api, parties)
    read_only = (await create_api_token(api, parties.client.token, "ro", ["READ"]))["token"]

    viewer = await api.ok(VIEWER, token=read_only)
    read = await api.ok(CONTRACT, {"id": contract["id"]}, token=read_only)

    assert viewer["viewer"]["id"] == parties.client.id
    assert read["contract"]["id"] == contract["id"]


async def test_a_read_token_is_forbidden_any_mutation(api: Api, parties: Parties) -> None:
    read_only = (await create_api_token(api, parties.client.token, "ro", ["READ"]))["token"]

    create = await api.raw(
        CREATE_API_TOKEN, {"input": {"name": "more", "scopes": ["READ"]}}, token=read_only
    )
    revoke = await api.raw(REVOKE_API_TOKEN, {"input": {"id": "whatever"}}, token=read_only)

    assert create.codes == ["FORBIDDEN"]
    assert revoke.codes == ["FORBIDDEN"]


async def test_a_revoked_token_stops_working(api: Api, parties: Parties) -> None:
    issued = await create_api_token(api, parties.client.token, "ci", ["READ", "WRITE"])
    await api.ok(VIEWER, token=issued["token"])

    payload = await revoke_api_token(api, parties.client.token, issued["apiToken"]["id"])

    assert payload["apiToken"]["id"] == issued["apiToken"]["id"]
    assert (await api.raw(VIEWER, token=issued["token"])).codes == ["UNAUTHENTICATED"]
    listed = await api.ok(API_TOKENS, token=parties.client.token)
    assert issued["apiToken"]["id"] not in [t["id"] for t in listed["apiTokens"]]
    await api.ok(VIEWER, token=parties.client.token)


async def test_revoking_another_users_token_is_not_found(api: Api, parties: Parties) -> None:
    issued = await create_api_token(api, parties.client.token, "ci", ["READ"])

    payload = await raw_revoke_api_token(api, parties.outsider.token, issued["apiToken"]["id"])
    malformed = await raw_revoke_api_token(api, parties.outsider.token, "not-an-id")
    unknown = await raw_revoke_api_token(api, parties.outsider.token, encode_id("ApiToken", 2**31))

    assert refusal(payload) == [("NOT_FOUND", ["id"])]
    assert refusal(malformed) == [("NOT_FOUND", ["id"])]
    assert refusal(unknown) == [("NOT_FOUND", ["id"])]
    await api.ok(VIEWER, token=issued["token"])


USER_EMAILS = """
query($id: ID!) {
  viewer { id email }
  contract(id: $id) { client { id email } freelancer { id email } }
}
"""


async def test_another_users_email_is_null_and_ones_own_is_visible(
    api: Api, parties: Parties
) -> None:
    contract = await offered(api, parties)

    as_client = await api.ok(USER_EMAILS, {"id": contract["id"]}, parties.client.token)
    as_freelancer = await api.ok(USER_EMAILS, {"id": contract["id"]}, parties.freelancer.token)
    as_outsider = await api.ok(NODE, {"id": parties.client.id}, parties.outsider.token)

    assert as_client["viewer"]["email"] == parties.client.email
    assert as_client["contract"]["client"]["email"] == parties.client.email
    assert as_client["contract"]["freelancer"]["email"] is None
    assert as_freelancer["contract"]["client"]["email"] is None
    assert as_freelancer["contract"]["freelancer"]["email"] == parties.freelancer.email
    assert as_outsider["node"]["__typename"] == "User"
    assert as_outsider["node"]["name"] == "Carol"
    assert as_outsider["node"]["email"] is None


async def test_an_admin_sees_every_email(api: Api, parties: Parties) -> None:
    contract = await offered(api, parties)

    data = await api.ok(USER_EMAILS, {"id": contract["id"]}, parties.admin.token)
    node = await api.ok(NODE, {"id": parties.outsider.id}, parties.admin.token)

    assert data["contract"]["client"]["email"] == parties.client.email
    assert data["contract"]["freelancer"]["email"] == parties.freelancer.email
    assert node["node"]["email"] == parties.outsider.email
