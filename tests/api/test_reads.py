"""Reads: opaque ids (§3, §6.25), `node`, who sees what (§6.26), and the `contracts` connection
with keyset cursors (§3, §6.32)."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from app.graphql.ids import encode_id
from tests.api.client import Api
from tests.api.operations import (
    CONTRACT,
    CONTRACTS,
    MILESTONE,
    NODE,
    Payload,
    accept_contract,
    create_api_token,
    raw_accept_contract,
    raw_create_contract,
    raw_decline_contract,
    raw_end_contract,
    raw_fund_milestone,
    raw_pay_bonus,
    raw_release_milestone,
    raw_request_revision,
    raw_submit_milestone,
    read_contract,
    refusal,
    release_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids, offered, submitted
from tests.support import FrozenClock


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


MALFORMED_IDS = [
    "",
    "not-an-id",
    "!!!",
    "x" * 300,
    _b64("Contract:"),
    _b64("Contract:abc"),
    _b64("Contract:0"),
    _b64("Contract:-1"),
    _b64("Contract:1.5"),
    _b64("Contract:99999999999999999999999999"),
    _b64("Milestone:abc"),
    _b64("Nothing:1"),
]
BIG = (2**31, 2**63 - 1, 987_654_321)
"""Past a 32-bit and a 64-bit integer, and an ordinary unknown key."""
UNKNOWN_IDS = [
    encode_id(type_name, pk)
    for type_name in ("Contract", "Milestone", "User", "Submission", "ContractEvent", "LedgerEntry")
    for pk in BIG
]
BAD_CONTRACT_IDS = [
    *MALFORMED_IDS,
    *(encode_id("Contract", pk) for pk in BIG),
    encode_id("Milestone", 1),
    encode_id("User", 1),
]
BAD_MILESTONE_IDS = [
    *MALFORMED_IDS,
    *(encode_id("Milestone", pk) for pk in BIG),
    encode_id("Contract", 1),
    encode_id("User", 1),
]


async def test_a_malformed_or_unknown_id_reads_as_null_and_never_as_an_error(
    api: Api, parties: Parties
) -> None:
    await funded(api, parties, "100.00")
    token = parties.client.token

    for bad_id in [*MALFORMED_IDS, *UNKNOWN_IDS]:
        for query, field in ((CONTRACT, "contract"), (MILESTONE, "milestone"), (NODE, "node")):
            result = await api.raw(query, {"id": bad_id}, token)
            assert result.errors == [], (bad_id, field, result.errors)
            assert result.data == {field: None}, bad_id


async def test_an_id_of_another_type_reads_as_null(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    token = parties.client.token

    as_milestone = await api.raw(MILESTONE, {"id": contract["id"]}, token)
    as_contract = await api.raw(CONTRACT, {"id": milestone_ids(contract)[0]}, token)
    user_as_contract = await api.raw(CONTRACT, {"id": parties.client.id}, token)

    assert (as_milestone.errors, as_milestone.data) == ([], {"milestone": None})
    assert (as_contract.errors, as_contract.data) == ([], {"contract": None})
    assert (user_as_contract.errors, user_as_contract.data) == ([], {"contract": None})


async def test_a_bad_contract_id_in_a_mutation_is_not_found(api: Api, parties: Parties) -> None:
    await offered(api, parties)
    client, freelancer = parties.client.token, parties.freelancer.token

    for bad_id in BAD_CONTRACT_IDS:
        payloads = [
            await raw_accept_contract(api, freelancer, bad_id),
            await raw_decline_contract(api, freelancer, bad_id),
            await raw_end_contract(api, client, bad_id),
            await raw_pay_bonus(api, client, bad_id, "5.00"),
            await raw_pay_bonus(api, client, bad_id, "5.00", idempotency_key="k"),
        ]

        for payload in payloads:
            assert refusal(payload) == [("NOT_FOUND", ["contractId"])], bad_id
            assert payload["contract"] is None


async def test_a_bad_milestone_id_in_a_mutation_is_not_found(api: Api, parties: Parties) -> None:
    await funded(api, parties, "100.00")
    client, freelancer = parties.client.token, parties.freelancer.token

    for bad_id in BAD_MILESTONE_IDS:
        payloads = [
            await raw_fund_milestone(api, client, bad_id),
            await raw_submit_milestone(api, freelancer, bad_id),
            await raw_request_revision(api, client, bad_id),
            await raw_release_milestone(api, client, bad_id),
            await raw_fund_milestone(api, client, bad_id, idempotency_key="k"),
            await raw_release_milestone(api, client, bad_id, idempotency_key="k"),
        ]

        for payload in payloads:
            assert refusal(payload) == [("NOT_FOUND", ["milestoneId"])], bad_id
            assert payload["milestone"] is None


@pytest.mark.parametrize("bad_id", ["not-an-id", *(encode_id("User", pk) for pk in BIG)])
async def test_offering_to_an_unknown_freelancer_is_not_found(
    api: Api, parties: Parties, bad_id: str
) -> None:
    payload = await raw_create_contract(
        api, parties.client.token, bad_id, [{"title": "Work", "amount": "10.00"}]
    )

    assert refusal(payload) == [("NOT_FOUND", ["freelancerId"])]


NODE_DETAILS = """
query($contract: ID!) {
  contract(id: $contract) {
    id
    milestones { id submissions { id } }
    escrow { id entries(first: 10) { edges { node { id } } } }
    events(first: 10) { edges { node { id } } }
  }
}
"""


async def _ids_of_every_type(api: Api, parties: Parties) -> dict[str, str]:
    contract = await submitted(api, parties, "100.00")
    data = await api.ok(NODE_DETAILS, {"contract": contract["id"]}, parties.client.token)
    details = data["contract"]
    return {
        "Contract": details["id"],
        "Milestone": details["milestones"][0]["id"],
        "User": parties.freelancer.id,
        "Submission": details["milestones"][0]["submissions"][0]["id"],
        "ContractEvent": details["events"]["edges"][0]["node"]["id"],
        "LedgerEntry": details["escrow"]["entries"]["edges"][0]["node"]["id"],
        "Escrow": details["escrow"]["id"],
    }


async def test_node_resolves_every_type_with_an_id_for_a_party(api: Api, parties: Parties) -> None:
    ids = await _ids_of_every_type(api, parties)

    for type_name, global_id in ids.items():
        for member in (parties.client, parties.freelancer, parties.admin):
            data = await api.ok(NODE, {"id": global_id}, member.token)
            assert data["node"] is not None, (type_name, member.name)
            assert data["node"]["__typename"] == type_name
            assert data["node"]["id"] == global_id


async def test_node_hides_an_outsiders_view_of_a_contract_and_its_parts(
    api: Api, parties: Parties
) -> None:
    ids = await _ids_of_every_type(api, parties)

    for type_name, global_id in ids.items():
        data = await api.ok(NODE, {"id": global_id}, parties.outsider.token)
        if type_name == "User":
            assert data["node"]["__typename"] == "User"
        else:
            assert data["node"] is None, type_name


async def test_an_outsider_reads_a_contract_and_its_milestone_as_null(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")

    read = await api.raw(CONTRACT, {"id": contract["id"]}, parties.outsider.token)
    milestone = await api.raw(MILESTONE, {"id": milestone_ids(contract)[0]}, parties.outsider.token)

    assert read.errors == []
    assert read.data == {"contract": None}
    assert milestone.errors == []
    assert milestone.data == {"milestone": None}


async def test_an_admin_reads_every_contract(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    read = await read_contract(api, parties.admin.token, contract["id"])

    assert read is not None
    assert read["id"] == contract["id"]
    assert read["escrow"]["held"]["amount"] == "100.00"
    assert [e["node"]["type"] for e in read["events"]["edges"]][-1] == "MILESTONE_FUNDED"


async def test_a_read_token_reads_what_its_user_may_see(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    read_only = (await create_api_token(api, parties.freelancer.token, "ro", ["READ"]))["token"]

    read = await read_contract(api, read_only, contract["id"])

    assert read is not None
    assert read["id"] == contract["id"]


# --- the contracts connection -------------------------------------------------------------


async def _offer(api: Api, parties: Parties, title: str) -> Payload:
    payload = await raw_create_contract(
        api,
        parties.client.token,
        parties.freelancer.id,
        [{"title": "Work", "amount": "10.00"}],
        title=title,
    )
    assert payload["userErrors"] == []
    contract: Payload = payload["contract"]
    return contract


async def _page(api: Api, token: str, first: int = 20, **variables: object) -> Payload:
    data = await api.ok(CONTRACTS, {"first": first, **variables}, token)
    page: Payload = data["contracts"]
    return page


def _titles(page: Payload) -> list[str]:
    return [edge["node"]["title"] for edge in page["edges"]]


async def test_contracts_without_first_returns_a_page_of_20(api: Api, parties: Parties) -> None:
    for n in range(21):
        await _offer(api, parties, f"c{n}")

    literal = await api.raw(
        "query { contracts { totalCount edges { cursor } } }", token=parties.client.token
    )
    variable_omitted = await api.raw(CONTRACTS, {}, parties.client.token)

    for result in (literal, variable_omitted):
        assert result.errors == []
        assert result.data is not None
        assert result.data["contracts"]["totalCount"] == 21
        assert len(result.data["contracts"]["edges"]) == 20


async def test_contracts_are_listed_newest_first(
    api: Api, parties: Parties, clock: FrozenClock
) -> None:
    for title in ("first", "second", "third"):
        await _offer(api, parties, title)
        clock.advance(timedelta(minutes=1))

    page = await _page(api, parties.client.token)

    assert _titles(page) == ["third", "second", "first"]
    assert page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is False
    assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]


async def test_contracts_created_at_the_same_instant_are_listed_newest_first(
    api: Api, parties: Parties
) -> None:
    for title in ("first", "second", "third"):
        await _offer(api, parties, title)

    page = await _page(api, parties.client.token)

    assert _titles(page) == ["third", "second", "first"]


@pytest.mark.parametrize("tick", [timedelta(0), timedelta(seconds=1)])
async def test_contract_pages_are_stable_when_contracts_are_added(
    api: Api, parties: Parties, clock: FrozenClock, tick: timedelta
) -> None:
    # given five contracts
    for n in range(1, 6):
        await _offer(api, parties, f"c{n}")
        clock.advance(tick)

    # when the first page is read, a contract is added, and the next pages are read
    first = await _page(api, parties.client.token, first=2)
    await _offer(api, parties, "c6")
    second = await _page(api, parties.client.token, first=2, after=first["pageInfo"]["endCursor"])
    third = await _page(api, parties.client.token, first=2, after=second["pageInfo"]["endCursor"])

    # then nothing is skipped or repeated
    assert _titles(first) == ["c5", "c4"]
    assert _titles(second) == ["c3", "c2"]
    assert _titles(third) == ["c1"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasNextPage"] is True
    assert third["pageInfo"]["hasNextPage"] is False
    assert first["totalCount"] == 5
    assert third["totalCount"] == 6
    fresh = await _page(api, parties.client.token, first=100)
    assert _titles(fresh) == ["c6", "c5", "c4", "c3", "c2", "c1"]


async def test_contracts_filter_by_status_and_role(api: Api, parties: Parties) -> None:
    # given Carol hires Frank twice (one accepted), and Frank hires Carol once
    offer = await _offer(api, parties, "offer")
    hired = await _offer(api, parties, "hired")
    await accept_contract(api, parties.freelancer.token, hired["id"])
    reverse = await raw_create_contract(
        api,
        parties.freelancer.token,
        parties.client.id,
        [{"title": "Work", "amount": "10.00"}],
        title="reverse",
    )
    assert reverse["userErrors"] == []
    carol = parties.client.token

    # then
    assert _titles(await _page(api, carol)) == ["reverse", "hired", "offer"]
    assert _titles(await _page(api, carol, role="CLIENT")) == ["hired", "offer"]
    assert _titles(await _page(api, carol, role="FREELANCER")) == ["reverse"]
    assert _titles(await _page(api, carol, status="ACTIVE")) == ["hired"]
    assert _titles(await _page(api, carol, status="OFFERED", role="CLIENT")) == ["offer"]
    assert (await _page(api, carol, status="ENDED"))["totalCount"] == 0
    assert (await _page(api, carol, role="CLIENT"))["totalCount"] == 2
    assert offer["status"] == "OFFERED"


async def test_contracts_lists_only_the_viewers_own_even_for_an_admin(
    api: Api, parties: Parties
) -> None:
    await _offer(api, parties, "theirs")

    outsider = await _page(api, parties.outsider.token)
    admin = await _page(api, parties.admin.token)

    assert outsider == {"totalCount": 0, "pageInfo": outsider["pageInfo"], "edges": []}
    assert outsider["pageInfo"]["hasNextPage"] is False
    assert admin["totalCount"] == 0


async def test_a_bad_cursor_is_not_an_internal_error(api: Api, parties: Parties) -> None:
    await _offer(api, parties, "one")

    result = await api.raw(CONTRACTS, {"after": "garbage"}, parties.client.token)

    assert "INTERNAL" not in result.codes


EVENT_PAGES = """
query($id: ID!, $after: String) {
  contract(id: $id) {
    events(first: 2, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node { sequence type } }
    }
    escrow {
      entries(first: 2) { totalCount pageInfo { hasNextPage } edges { node { kind } } }
    }
  }
}
"""


async def test_events_and_entries_are_connections_oldest_first(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")
    await release_milestone(api, parties.client.token, milestone_ids(contract)[0])
    token = parties.client.token

    first = (await api.ok(EVENT_PAGES, {"id": contract["id"]}, token))["contract"]
    cursor = first["events"]["pageInfo"]["endCursor"]
    second = (await api.ok(EVENT_PAGES, {"id": contract["id"], "after": cursor}, token))["contract"]

    assert [e["node"]["sequence"] for e in first["events"]["edges"]] == [1, 2]
    assert [e["node"]["sequence"] for e in second["events"]["edges"]] == [3, 4]
    assert first["events"]["totalCount"] == 4
    assert first["events"]["pageInfo"]["hasNextPage"] is True
    assert second["events"]["pageInfo"]["hasNextPage"] is False
    assert first["escrow"]["entries"]["totalCount"] == 5
    assert first["escrow"]["entries"]["pageInfo"]["hasNextPage"] is True
