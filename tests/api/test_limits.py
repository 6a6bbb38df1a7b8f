"""Request limits (§6.24): query depth 15, 50 aliases, a cost of 5,000 points, `first` in 1-100.
Each refusal is a top-level `BAD_REQUEST`, never a partial answer."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from graphql import (
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLObjectType,
    get_introspection_query,
    get_nullable_type,
)
from strawberry.types import ExecutionResult

from app.domain.milestones import MAX_SUBMISSIONS
from app.graphql import limits
from app.graphql.context import Context
from app.graphql.schema import build_schema
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import (
    codes,
    raw_submit_milestone,
    read_milestone,
    request_revision,
    submit_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids
from tests.services.test_query_counts import DASHBOARD

LIMITS = limits.Limits(max_depth=15, max_aliases=50, max_cost=5000)


def nested(depth: int) -> str:
    """A query exactly `depth` fields deep (the root field is 1, the leaf `id` counts too),
    through single objects so that only its depth is large."""
    fields = ["contract(id: $id)"] + [
        "activeMilestone" if level % 2 else "contract" for level in range(1, depth - 1)
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
    assert result.data["contract"]["activeMilestone"]["contract"]["activeMilestone"]


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
            f"fragment C{n} on Contract {{ activeMilestone {{ contract {{ ...C{n + 1} }} }} }}"
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


# --- issue 7: limits that cannot be bypassed -------------------------------------------------

NESTED_LISTS = """
query($id: ID!) {
  contract(id: $id) { milestones { contract { milestones { contract { milestones { id } } } } } }
}
"""


async def test_nested_plain_lists_are_counted_by_their_largest_size_and_refused(
    api: Api, parties: Parties
) -> None:
    # given: a small contract; milestones count by MAX_MILESTONES_PER_CONTRACT (200), so the
    # query could build 200 * 200 * 200 objects on a full one
    contract = await funded(api, parties, "100.00")

    # when
    result = await api.raw(NESTED_LISTS, {"id": contract["id"]}, parties.client.token)

    # then
    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None
    assert "nodes" in result.errors[0]["message"]
    assert "path" not in result.errors[0]


async def test_two_levels_of_milestones_are_answered(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    query = (
        "query($id: ID!) { contract(id: $id) { milestones { contract { milestones { id } } } } }"
    )

    result = await api.raw(query, {"id": contract["id"]}, parties.client.token)

    assert result.errors == []
    assert result.data is not None
    assert len(result.data["contract"]["milestones"][1]["contract"]["milestones"]) == 2


async def test_the_dashboard_of_50_contracts_with_milestones_and_submissions_is_answered(
    api: Api, parties: Parties
) -> None:
    # given
    await funded(api, parties, "100.00")

    # when
    result = await api.raw(DASHBOARD, {"first": 50}, parties.client.token)

    # then
    assert result.errors == []
    assert result.data is not None
    assert result.data["contracts"]["totalCount"] == 1


async def test_a_variable_default_counts_as_the_page_it_asks_for(
    api: Api, parties: Parties
) -> None:
    query = EXPENSIVE.replace("query($n: Int)", "query($n: Int = 100)")

    result = await api.raw(query, None, parties.client.token)

    assert result.codes == ["BAD_REQUEST"]
    assert "cost" in result.errors[0]["message"]


def doubling_fragments(levels: int) -> str:
    """About 900 bytes that expand to 2**levels `__typename` fields."""
    return (
        "query { ...F0 }\n"
        + "\n".join(f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels))
        + f"\nfragment F{levels} on Query {{ __typename }}"
    )


async def test_a_document_of_doubling_fragments_is_refused(api: Api) -> None:
    document = doubling_fragments(23)
    assert len(document) < 1000

    result = await api.raw(document)

    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None


async def test_the_cost_walk_visits_each_fragment_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a count of the selection sets the walk enters
    entered: list[int] = []
    original = limits._Walk.selections

    def counting(self: limits._Walk, selection_set: Any, parent: Any) -> Any:
        if selection_set is not None:
            entered.append(1)
        return original(self, selection_set, parent)

    monkeypatch.setattr(limits._Walk, "selections", counting)

    # when
    result = await api.raw(doubling_fragments(40))

    # then: one operation and 41 fragments, each walked once
    assert result.codes == ["BAD_REQUEST"]
    assert len(entered) == 42


async def test_a_document_over_10000_tokens_is_refused_before_it_runs(
    api: Api, parties: Parties
) -> None:
    # given: 10,001 tokens (`{`, `viewer`, `{`, 9,996 `id`, `}`, `}`)
    document = "{ viewer { " + "id " * 9_996 + "} }"

    result = await api.raw(document, None, parties.client.token)

    assert result.codes == ["BAD_REQUEST"]
    assert result.data is None
    assert "tokens" in result.errors[0]["message"]


@pytest.mark.parametrize("field", ["__typename", "__schema { queryType { name } }"])
async def test_aliased_introspection_fields_count_as_aliases(api: Api, field: str) -> None:
    fifty = "{ " + " ".join(f"a{n}: {field}" for n in range(50)) + " }"
    fifty_one = "{ " + " ".join(f"a{n}: {field}" for n in range(51)) + " }"

    answered = await api.raw(fifty)
    refused = await api.raw(fifty_one)

    assert answered.errors == []
    assert refused.codes == ["BAD_REQUEST"]
    assert refused.data is None


async def test_introspection_fields_count_in_depth(api: Api) -> None:
    deep = "{ __schema { types { fields { type" + " { ofType" * 12 + " { name" + " }" * 17

    result = await api.raw(deep)

    assert result.codes == ["BAD_REQUEST"]
    assert "depth" in result.errors[0]["message"]


async def test_the_graphiql_introspection_query_is_answered(api: Api) -> None:
    result = await api.raw(get_introspection_query(descriptions=True))

    assert result.errors == []
    assert result.data is not None
    assert result.data["__schema"]["queryType"]["name"] == "Query"


def test_every_list_field_of_the_schema_has_a_declared_size() -> None:
    graphql_schema = build_schema()._schema
    lists = {
        f"{type_.name}.{name}"
        for type_ in graphql_schema.type_map.values()
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType)
        and not type_.name.startswith("__")
        for name, field in type_.fields.items()
        if isinstance(get_nullable_type(field.type), GraphQLList)
    }

    undeclared = {
        name
        for name in lists
        if name not in limits.list_sizes(200)
        and not name.endswith(("Connection.edges", "Payload.userErrors"))
    }

    assert undeclared == set()


async def test_a_milestone_takes_at_most_MAX_SUBMISSIONS_submissions(
    api: Api, parties: Parties
) -> None:
    # given: a milestone submitted MAX_SUBMISSIONS times
    contract = await funded(api, parties, "100.00")
    milestone = milestone_ids(contract)[0]
    for round_ in range(MAX_SUBMISSIONS):
        if round_:
            await request_revision(api, parties.client.token, milestone)
        await submit_milestone(api, parties.freelancer.token, milestone)
    await request_revision(api, parties.client.token, milestone)

    # when
    refused = await raw_submit_milestone(api, parties.freelancer.token, milestone)

    # then
    assert codes(refused) == ["INVALID_STATE"]
    shown = await read_milestone(api, parties.client.token, milestone)
    assert shown is not None
    assert shown["status"] == "REVISION_REQUESTED"


async def test_a_query_that_builds_more_objects_than_allowed_stops_with_bad_request(
    api: Api, runtime: Runtime, parties: Parties
) -> None:
    # given: a schema that stops at 10 objects, and a contract of 12 milestones
    contract = await funded(api, parties, *["50.00"] * 12)
    small = build_schema(dataclasses.replace(LIMITS, max_objects=10))
    query = "query($id: ID!) { contract(id: $id) { id milestones { id } } }"

    # when
    result = await small.execute(
        query,
        variable_values={"id": contract["id"]},
        context_value=Context(runtime=runtime, token=parties.client.token),
    )

    # then
    assert [e.extensions for e in result.errors or []] == [{"code": "BAD_REQUEST"}]
    assert result.data is None
    assert "objects" in (result.errors or [])[0].message


async def test_a_subscription_event_is_held_to_the_same_object_count(
    api: Api, runtime: Runtime, parties: Parties
) -> None:
    # given: a schema that stops at 10 objects, a subscriber to a contract of 12 milestones
    contract = await funded(api, parties, *["50.00"] * 12)
    small = build_schema(dataclasses.replace(LIMITS, max_objects=10))
    subscription = (
        "subscription($id: ID!) { contractEvents(contractId: $id, afterSequence: 0) "
        "{ sequence contract { milestones { id } } } }"
    )
    context = Context(runtime=runtime, token=parties.client.token, connection_params={})

    # when
    stream = await small.subscribe(subscription, {"id": contract["id"]}, context)
    assert not isinstance(stream, ExecutionResult)
    first = await anext(stream)
    await stream.aclose()

    # then
    assert [e.extensions for e in first.errors or []] == [{"code": "BAD_REQUEST"}]
    assert first.data is None


def walks_counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One item for each operation the cost walk starts on (its root selection set)."""
    started: list[int] = []
    original = limits._Walk.selections

    def counting(self: limits._Walk, selection_set: Any, parent: Any) -> Any:
        if parent is not None and parent.name in ("Query", "Mutation", "Subscription"):
            started.append(1)
        return original(self, selection_set, parent)

    monkeypatch.setattr(limits._Walk, "selections", counting)
    return started


async def test_a_document_seen_again_is_not_walked_again(
    api: Api, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    walks = walks_counted(monkeypatch)
    query = (
        "query SeenAgain($id: ID!) { contract(id: $id) { id } contracts(first: 5) { totalCount } }"
    )

    # when: the same document, whatever the variables that its figures do not read
    first = await api.raw(query, {"id": "a"}, parties.client.token)
    again = await api.raw(query, {"id": "b"}, parties.client.token)

    # then
    assert first.errors == again.errors == []
    assert len(walks) == 1


async def test_the_page_variables_are_part_of_the_verdict(
    api: Api, parties: Parties, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    walks = walks_counted(monkeypatch)
    query = "query PageVerdict($n: Int) { contracts(first: $n) { totalCount } }"

    # when
    results = [
        await api.raw(query, {"n": n}, parties.client.token) for n in (10, 101, 1, True, 10, 101)
    ]

    # then: each value walked once, `true` not taken for `1`, each verdict kept
    assert [r.codes for r in results] == [
        [],
        ["BAD_REQUEST"],
        [],
        ["BAD_REQUEST"],
        [],
        ["BAD_REQUEST"],
    ]
    assert "between 1 and" in results[3].errors[0]["message"]
    assert len(walks) == 4


async def test_a_document_refused_for_its_figures_is_refused_again(
    api: Api, parties: Parties
) -> None:
    query = "query Again" + nested(16).removeprefix("query")

    refused = await api.raw(query, {"id": "x"}, parties.client.token)
    again = await api.raw(query, {"id": "y"}, parties.client.token)

    assert refused.codes == again.codes == ["BAD_REQUEST"]
    assert refused.errors == again.errors
    assert again.data is None
