"""What responses give away (issue 7 §16): HTML (GraphiQL) carries a Content-Security-Policy,
no response may be framed or sniffed, and `User.isAdmin` is shown only to the user themself
and to admins."""

from __future__ import annotations

import httpx
import pytest

from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import offered

CONTRACT_PEOPLE = """
query($id: ID!) { contract(id: $id) { client { id isAdmin } freelancer { id isAdmin } } }
"""
VIEWER = "query { viewer { id isAdmin } }"


async def test_graphiql_carries_a_content_security_policy_and_may_not_be_framed(
    api: Api,
) -> None:
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        health = await http.get("/healthz")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert health.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script for the policy to allow


@pytest.mark.parametrize(
    ("viewer", "shown"),
    [
        ("client", {"client": False, "freelancer": None}),
        ("admin", {"client": False, "freelancer": False}),
    ],
)
async def test_is_admin_is_shown_only_to_the_user_and_to_admins(
    api: Api, parties: Parties, viewer: str, shown: dict[str, bool | None]
) -> None:
    # given a contract between two non-admins
    contract = await offered(api, parties, "100.00")
    # when the client, or an admin, reads its people
    token = getattr(parties, viewer).token
    data = await api.ok(CONTRACT_PEOPLE, {"id": contract["id"]}, token)
    # then
    people = data["contract"]
    assert {role: people[role]["isAdmin"] for role in ("client", "freelancer")} == shown


async def test_an_admin_sees_their_own_is_admin(api: Api, parties: Parties) -> None:
    data = await api.ok(VIEWER, token=parties.admin.token)
    assert data["viewer"] == {"id": parties.admin.id, "isAdmin": True}
