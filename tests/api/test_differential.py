"""tests/differential.py finds a difference between the compiled path and the standard
executor: with a compiled path that answers one field wrongly, the replay of a read reports
the callers who see it, and only them."""

from __future__ import annotations

from typing import Any

import pytest

from app.graphql.compiled import run
from app.graphql.compiled.write import Prepared
from app.graphql.limits import Limits
from app.services.runtime import Runtime
from tests import differential
from tests.api.client import Api
from tests.api.people import Parties
from tests.api.scenarios import funded

TITLES = "query DifferentialSelfTest { contracts { edges { node { title } } } }"


def _titles_renamed(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: "wrong" if k == "title" else _titles_renamed(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_titles_renamed(item) for item in data]
    return data


async def test_a_read_the_compiled_path_answers_wrongly_is_reported_for_each_caller_who_sees_it(
    api: Api, parties: Parties, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a contract between the client and the freelancer, and plans that rename titles
    await funded(api, parties, "10.00")
    execute = run.Run.execute

    async def wrong(self: run.Run, plan: Prepared) -> dict[str, Any]:
        data: dict[str, Any] = _titles_renamed(await execute(self, plan))
        return data

    monkeypatch.setattr(run.Run, "execute", wrong)
    probe = differential.current()
    assert probe is not None, "tests/differential.py is off"
    # when
    await probe.replay(Limits(), differential.Operation(TITLES, None, None), runtime)
    # then: the parties see the contract's title; the others (the outsider, the admin, who
    # lists only their own contracts, no one and a bad token) see none
    found, probe.mismatches = probe.mismatches, []
    assert {m.token for m in found} == {parties.client.token, parties.freelancer.token}
    assert all(b'"title":"wrong"' in m.compiled for m in found), found
