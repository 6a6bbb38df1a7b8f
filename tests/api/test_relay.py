"""Relay (issue 10, points 6 and 7): every connection has the spec's whole `pageInfo` and pages
backward with `last`/`before`; `Escrow` is a `Node`, so a normalised cache merges it; `nodes`
fetches many objects by id at once, null for the ones the viewer may not see."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from app.graphql.context import Context
from app.graphql.ids import encode_id
from app.graphql.limits import Limits
from app.graphql.schema import build_schema
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import Payload, release_milestone
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids, offered
from tests.services.test_query_counts import counting_statements

PAGE_INFO = "pageInfo { hasNextPage hasPreviousPage startCursor endCursor }"

CONTRACTS = f"""
query($first: Int, $after: String, $last: Int, $before: String) {{
  contracts(first: $first, after: $after, last: $last, before: $before) {{
    totalCount {PAGE_INFO} edges {{ cursor node {{ title }} }}
  }}
}}
"""

EVENTS = f"""
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  contract(id: $id) {{
    events(first: $first, after: $after, last: $last, before: $before) {{
      totalCount {PAGE_INFO} edges {{ cursor node {{ sequence }} }}
    }}
  }}
}}
"""

ENTRIES = f"""
query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) {{
  contract(id: $id) {{
    escrow {{
      entries(first: $first, after: $after, last: $last, before: $before) {{
        totalCount {PAGE_INFO} edges {{ cursor node {{ kind }} }}
      }}
    }}
  }}
}}
"""

ESCROW = "query($id: ID!) { contract(id: $id) { escrow { id held { amount } } } }"
NODE = "query($id: ID!) { node(id: $id) { __typename id ... on Escrow { held { amount } } } }"
NODES = "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"
FUND = """
mutation($id: ID!) {
  fundMilestone(input: {milestoneId: $id}) { contract { escrow { id held { amount } } } }
}
"""


async def _connection(
    api: Api, token: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    data = await api.ok(query, variables, token)
    connection = data.get("contracts") or data["contract"].get("events")
    if connection is None:
        connection = data["contract"]["escrow"]["entries"]
    result: dict[str, Any] = connection
    return result


def _values(page: dict[str, Any]) -> list[Any]:
    return [next(iter(edge["node"].values())) for edge in page["edges"]]


def _cursors(page: dict[str, Any]) -> list[str]:
    return [edge["cursor"] for edge in page["edges"]]


async def test_a_first_page_has_the_whole_page_info(api: Api, parties: Parties) -> None:
    # given
    contract = await funded(api, parties, "100.00", "50.00")

    # when
    page = await _connection(api, parties.client.token, EVENTS, {"id": contract["id"], "first": 2})

    # then
    cursors = _cursors(page)
    assert _values(page) == [1, 2]
    assert page["pageInfo"] == {
        "hasNextPage": True,
        "hasPreviousPage": False,
        "startCursor": cursors[0],
        "endCursor": cursors[-1],
    }


async def test_a_page_after_a_cursor_has_a_previous_page(api: Api, parties: Parties) -> None:
    # given
    contract = await funded(api, parties, "100.00", "50.00")
    variables = {"id": contract["id"], "first": 1}
    first = await _connection(api, parties.client.token, EVENTS, variables)

    # when
    second = await _connection(
        api, parties.client.token, EVENTS, {**variables, "after": first["pageInfo"]["endCursor"]}
    )

    # then
    assert _values(second) == [2]
    assert second["pageInfo"]["hasPreviousPage"] is True
    assert second["pageInfo"]["startCursor"] == second["pageInfo"]["endCursor"]


async def test_the_pages_of_contracts_made_at_one_instant_know_what_lies_either_side(
    api: Api, parties: Parties
) -> None:
    # given: three contracts made at the same instant (the clock is frozen): the id orders them
    for _ in range(3):
        await offered(api, parties, "10.00")
    token = parties.client.token
    first = await _connection(api, token, CONTRACTS, {"first": 1})

    # when
    middle = await _connection(
        api, token, CONTRACTS, {"first": 1, "after": first["pageInfo"]["endCursor"]}
    )
    back = await _connection(
        api, token, CONTRACTS, {"last": 1, "before": middle["pageInfo"]["startCursor"]}
    )

    # then
    assert first["pageInfo"]["hasPreviousPage"] is False
    assert (middle["pageInfo"]["hasPreviousPage"], middle["pageInfo"]["hasNextPage"]) == (
        True,
        True,
    )
    assert _cursors(back) == _cursors(first)
    assert (back["pageInfo"]["hasPreviousPage"], back["pageInfo"]["hasNextPage"]) == (False, True)


async def test_a_backward_page_holds_the_last_items_in_the_connections_order(
    api: Api, parties: Parties
) -> None:
    # given: events 1 (offered), 2 (accepted), 3 (funded)
    contract = await funded(api, parties, "100.00", "50.00")
    variables = {"id": contract["id"]}

    # when
    last = await _connection(api, parties.client.token, EVENTS, {**variables, "last": 2})
    before = await _connection(
        api,
        parties.client.token,
        EVENTS,
        {**variables, "last": 2, "before": last["pageInfo"]["startCursor"]},
    )

    # then
    assert _values(last) == [2, 3]
    assert last["pageInfo"]["hasPreviousPage"] is True
    assert last["pageInfo"]["hasNextPage"] is False
    assert _values(before) == [1]
    assert before["pageInfo"]["hasPreviousPage"] is False
    assert before["pageInfo"]["hasNextPage"] is True
    assert last["totalCount"] == before["totalCount"] == 3


@pytest.mark.parametrize(
    "query", [CONTRACTS, EVENTS, ENTRIES], ids=["contracts", "events", "entries"]
)
async def test_paging_backward_walks_every_item_that_paging_forward_does(
    api: Api, parties: Parties, query: str
) -> None:
    # given: three contracts; on the first, events and ledger entries of two fundings
    contract = await funded(api, parties, "100.00", "50.00")
    await release_milestone(api, parties.client.token, milestone_ids(contract)[0])
    await funded(api, parties, "10.00")
    await active(api, parties, "10.00")
    token = parties.client.token
    variables: dict[str, Any] = {"id": contract["id"]}
    everything = _cursors(await _connection(api, token, query, {**variables, "first": 100}))

    # when
    walked: list[str] = []
    before: str | None = None
    while True:
        page = await _connection(api, token, query, {**variables, "last": 2, "before": before})
        walked = _cursors(page) + walked
        if not page["pageInfo"]["hasPreviousPage"]:
            break
        before = page["pageInfo"]["startCursor"]

    # then
    assert len(everything) >= 3
    assert walked == everything


async def test_both_cursors_bound_one_page(api: Api, parties: Parties) -> None:
    # given: events 1 to 5
    contract = await funded(api, parties, "100.00", "50.00")
    await release_milestone(api, parties.client.token, milestone_ids(contract)[0])
    variables = {"id": contract["id"]}
    token = parties.client.token
    cursors = _cursors(await _connection(api, token, EVENTS, {**variables, "first": 100}))

    # when
    forward = await _connection(
        api, token, EVENTS, {**variables, "first": 10, "after": cursors[0], "before": cursors[3]}
    )
    backward = await _connection(
        api, token, EVENTS, {**variables, "last": 1, "after": cursors[0], "before": cursors[3]}
    )

    # then
    assert _values(forward) == [2, 3]
    assert forward["pageInfo"]["hasPreviousPage"] is True  # event 1 precedes `after`
    assert forward["pageInfo"]["hasNextPage"] is True  # event 4 is at `before`
    assert _values(backward) == [3]
    assert backward["pageInfo"]["hasPreviousPage"] is True  # more in range: event 2


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode()


async def test_has_previous_page_is_exact_for_a_cursor_before_every_item(
    api: Api, parties: Parties
) -> None:
    # given: a cursor of the contracts connection later than every contract (newest first,
    # so every contract comes after it and none before)
    await offered(api, parties, "10.00")
    future = _b64("contracts|2999-01-01T00:00:00+00:00|1")

    # when
    page = await _connection(api, parties.client.token, CONTRACTS, {"after": future})

    # then
    assert len(page["edges"]) == 1
    assert page["pageInfo"]["hasPreviousPage"] is False


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"last": 0}, "last must be between 1 and 100"),
        ({"last": 101}, "last must be between 1 and 100"),
        ({"first": 1, "last": 1}, "first and last cannot be given together"),
        ({"last": 1, "before": "garbage"}, "invalid cursor"),
        ({"before": _b64("events|1")}, "invalid cursor"),
    ],
)
async def test_a_bad_backward_page_is_a_bad_request(
    api: Api, parties: Parties, variables: dict[str, Any], message: str
) -> None:
    await offered(api, parties, "10.00")

    result = await api.raw(CONTRACTS, variables, parties.client.token)

    assert result.codes == ["BAD_REQUEST"], result.errors
    assert result.errors[0]["message"] == message


async def test_the_escrow_has_an_id_that_node_resolves(api: Api, parties: Parties) -> None:
    # given
    contract = await funded(api, parties, "100.00")

    # when
    escrow = (await api.ok(ESCROW, {"id": contract["id"]}, parties.client.token))["contract"]
    node = await api.ok(NODE, {"id": escrow["escrow"]["id"]}, parties.freelancer.token)
    hidden = await api.ok(NODE, {"id": escrow["escrow"]["id"]}, parties.outsider.token)
    admin = await api.ok(NODE, {"id": escrow["escrow"]["id"]}, parties.admin.token)

    # then
    assert escrow["escrow"]["id"] == encode_id("Escrow", int(_pk(contract["id"])))
    assert node["node"] == {"__typename": "Escrow", **escrow["escrow"]}
    assert admin == node
    assert hidden == {"node": None}


def _pk(global_id: str) -> str:
    return base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().split(":")[1]


async def test_a_mutation_returns_the_escrow_under_the_id_a_read_gave(
    api: Api, parties: Parties
) -> None:
    # given: a cached read of the escrow
    contract = await active(api, parties, "100.00")
    read = (await api.ok(ESCROW, {"id": contract["id"]}, parties.client.token))["contract"]

    # when
    funded_now = await api.ok(FUND, {"id": milestone_ids(contract)[0]}, parties.client.token)

    # then: one id, so a normalised cache merges the new figures into the cached object
    escrow = funded_now["fundMilestone"]["contract"]["escrow"]
    assert escrow["id"] == read["escrow"]["id"]
    assert (read["escrow"]["held"]["amount"], escrow["held"]["amount"]) == ("0.00", "100.00")


async def test_nodes_answers_each_id_in_order_null_for_the_unseen(
    api: Api, parties: Parties
) -> None:
    # given
    contract = await funded(api, parties, "100.00")
    escrow = (await api.ok(ESCROW, {"id": contract["id"]}, parties.client.token))["contract"]
    milestone = milestone_ids(contract)[0]
    ids = [
        milestone,
        "garbage",
        contract["id"],
        encode_id("Contract", 2**31 - 1),
        escrow["escrow"]["id"],
        parties.freelancer.id,
        milestone,
    ]

    # when
    party = (await api.ok(NODES, {"ids": ids}, parties.client.token))["nodes"]
    outsider = (await api.ok(NODES, {"ids": ids}, parties.outsider.token))["nodes"]

    # then
    kinds = [node and node["__typename"] for node in party]
    assert kinds == ["Milestone", None, "Contract", None, "Escrow", "User", "Milestone"]
    assert [node and node["id"] for node in party] == [
        i if kind else None for i, kind in zip(ids, kinds, strict=True)
    ]
    assert [node and node["__typename"] for node in outsider] == [
        None,
        None,
        None,
        None,
        None,
        "User",
        None,
    ]


async def test_nodes_takes_at_most_100_ids(api: Api, parties: Parties) -> None:
    at_most = await api.raw(NODES, {"ids": [parties.client.id] * 100}, parties.client.token)
    too_many = await api.raw(NODES, {"ids": [parties.client.id] * 101}, parties.client.token)

    assert at_most.errors == [] and len((at_most.data or {})["nodes"]) == 100
    assert too_many.codes == ["BAD_REQUEST"]
    assert too_many.errors[0]["message"] == "ids must hold at most 100 ids"


async def test_nodes_needs_a_token(api: Api, parties: Parties) -> None:
    result = await api.raw(NODES, {"ids": [parties.client.id]})

    assert result.codes == ["UNAUTHENTICATED"]


async def test_page_info_and_the_escrow_id_answer_the_same_on_both_read_paths(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    # given
    contract: Payload = await funded(api, parties, "100.00", "50.00")
    query = f"""
    query($id: ID!) {{
      contracts(first: 1) {{ {PAGE_INFO} edges {{ node {{ escrow {{ id }} }} }} }}
      contract(id: $id) {{
        escrow {{ id entries(first: 1) {{ {PAGE_INFO} }} }}
        events(first: 2) {{ {PAGE_INFO} }}
      }}
    }}
    """

    schemas = [build_schema(Limits(), compiled=compiled) for compiled in (True, False)]

    for token in (parties.client.token, parties.outsider.token, parties.admin.token):
        # when
        compiled, standard = [
            await schema.execute(
                query, {"id": contract["id"]}, context_value=Context(runtime=runtime, token=token)
            )
            for schema in schemas
        ]

        # then
        assert (compiled.data, compiled.errors) == (standard.data, standard.errors)
        assert compiled.errors is None
        assert compiled.data is not None and "hasPreviousPage" in str(compiled.data)


async def _statements(runtime: Runtime, token: str, variables: dict[str, Any]) -> int:
    """The SQL statements of one `contracts` page on the standard path, the caller known."""
    schema = build_schema(Limits(), compiled=False)
    context = Context(runtime=runtime, token=token)
    await context.require()
    with counting_statements() as statements:
        result = await schema.execute(CONTRACTS, variables, context_value=context)
    assert not result.errors, result.errors
    return len(statements)


async def test_a_page_costs_one_look_past_each_cursor_given_whatever_the_rows(
    api: Api, parties: Parties, runtime: Runtime
) -> None:
    # given: cursors into a few contracts, then into many more
    counts = []
    for more in (3, 9):
        for _ in range(more):
            await offered(api, parties, "10.00")
        page = await _connection(api, parties.client.token, CONTRACTS, {"first": 2})
        after, before = page["edges"][0]["cursor"], page["edges"][1]["cursor"]

        # when
        counts.append(
            [
                await _statements(runtime, parties.client.token, variables)
                for variables in (
                    {"first": 2},
                    {"last": 2},
                    {"first": 2, "after": after},
                    {"last": 2, "before": before},
                    {"first": 2, "after": after, "before": before},
                )
            ]
        )

    # then: a count and the page, and an EXISTS for each cursor
    assert counts == [[2, 2, 3, 3, 4]] * 2
