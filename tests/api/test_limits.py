"""Request limits (§6.24): query depth 15, 50 aliases, a cost of 5,000 points, `first` in 1-100.
Each refusal is a top-level `BAD_REQUEST`, never a partial answer."""

from __future__ import annotations

import pytest

from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import funded


def nested(depth: int) -> str:
    """A query exactly `depth` fields deep (the root field is 1, the leaf `id` counts too)."""
    fields = ["contract(id: $id)"] + [
        "milestones" if level % 2 else "contract" for level in range(1, depth - 1)
    ]
    return "query($id: ID!) { " + " { ".join(fields) + " { id" + " }" * (len(fields)) + " }"


def aliased(count: int) -> str:
    return (
        "query { "
        + " ".join(f"a{n}: policy {{ maxMilestonesPerContract }}" for n in range(count))
        + " }"
    )


async def test_a_query_15_deep_is_answered(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    result = await api.raw(nested(15), {"id": contract["id"]}, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    assert result.data["contract"]["milestones"][0]["contract"]["milestones"]


async def test_a_query_16_deep_is_a_bad_request(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    result = await api.raw(nested(16), {"id": contract["id"]}, parties.client.token)

    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None


async def test_a_deep_query_hidden_in_fragments_is_a_bad_request(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    query = (
        "query($id: ID!) { contract(id: $id) { ...C1 } }\n"
        + "\n".join(
            f"fragment C{n} on Contract {{ milestones {{ contract {{ ...C{n + 1} }} }} }}"
            for n in range(1, 9)
        )
        + "\nfragment C9 on Contract { id }"
    )

    result = await api.raw(query, {"id": contract["id"]}, parties.client.token)

    assert result.codes == ["BAD_REQUEST"]


async def test_fifty_aliases_are_answered(api: Api) -> None:
    result = await api.raw(aliased(50))

    assert result.errors == []
    assert result.data is not None
    assert len(result.data) == 50


async def test_more_than_fifty_aliases_are_a_bad_request(api: Api) -> None:
    result = await api.raw(aliased(51))

    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None


EXPENSIVE = """
query($n: Int) {
  contracts(first: $n) {
    edges { node { id events(first: $n) { edges { node { id type } } } } }
  }
}
"""


async def test_a_query_over_the_cost_limit_is_a_bad_request(api: Api, parties: Parties) -> None:
    await funded(api, parties, "100.00")

    result = await api.raw(EXPENSIVE, {"n": 100}, parties.client.token)

    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None


async def test_the_same_query_with_small_pages_is_answered(api: Api, parties: Parties) -> None:
    await funded(api, parties, "100.00")

    result = await api.raw(EXPENSIVE, {"n": 5}, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    assert len(result.data["contracts"]["edges"]) == 1


PAGES = {
    "contracts": "query($n: Int) { contracts(first: $n) { totalCount } }",
    "events": "query($id: ID!, $n: Int) { contract(id: $id) { events(first: $n) { totalCount } } }",
    "entries": (
        "query($id: ID!, $n: Int) "
        "{ contract(id: $id) { escrow { entries(first: $n) { totalCount } } } }"
    ),
}


@pytest.mark.parametrize("connection", PAGES)
async def test_a_page_size_outside_1_to_100_is_a_bad_request(
    api: Api, parties: Parties, connection: str
) -> None:
    contract = await funded(api, parties, "100.00")
    query = PAGES[connection]
    reference = {} if connection == "contracts" else {"id": contract["id"]}

    for first in (0, 101, -1):
        result = await api.raw(query, {**reference, "n": first}, parties.client.token)
        assert result.codes == ["BAD_REQUEST"], first
        assert result.data is None
    for first in (1, 100):
        result = await api.raw(query, {**reference, "n": first}, parties.client.token)
        assert result.errors == [], first


async def test_a_literal_page_size_of_zero_is_a_bad_request(api: Api, parties: Parties) -> None:
    result = await api.raw(
        "query { contracts(first: 0) { totalCount } }", None, parties.client.token
    )

    assert result.codes == ["BAD_REQUEST"]
