"""The README's walkthrough reads answer the same bytes through the compiled path and the
standard executor (issue 9, point 4), on the demo data, as every caller.

Each query of a `graphql` block of README.md is sent to the app as each demo user, an
outsider, and no one; tests/differential.py replays it through both paths as each of them and
fails the test on any difference. A `"<contract id>"` placeholder takes each demo contract's id
in turn; any other placeholder fails the test, so that a new one is given values here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, OperationType, parse, print_ast

from app import demo
from app.db import models
from app.graphql.ids import encode_id
from app.services import accounts
from app.services.runtime import Runtime
from tests import differential
from tests.api.client import Api
from tests.api.people import join

README = Path(__file__).parents[2] / "README.md"
BLOCK = re.compile(r"```graphql\n(.*?)```", re.DOTALL)
PLACEHOLDER = re.compile(r'"<[^">]*>"')
CONTRACT_ID = '"<contract id>"'


def walkthrough_reads() -> list[tuple[str, str | None]]:
    """Each query of the README's `graphql` blocks: the block and the operation's name."""
    reads = []
    for block in BLOCK.findall(README.read_text()):
        for definition in parse(block).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation is OperationType.QUERY
            ):
                reads.append((block, definition.name.value if definition.name else None))
    return reads


async def _demo_tokens(runtime: Runtime) -> list[str]:
    tokens = []
    for _, email in (demo.CLIENT, demo.FREELANCER, demo.ADMIN):
        user = await models.User.get(email=email)
        tokens.append(await accounts.issue_token_for(runtime, user.id, "walkthrough"))
    tokens.append((await join(runtime, "Olga")).token)
    return tokens


async def test_the_walkthrough_reads_answer_alike_on_both_paths_as_every_caller(
    api: Api, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: the demo data, and the README's reads with their placeholders filled
    await demo.seed(runtime)
    capsys.readouterr()
    tokens = await _demo_tokens(runtime)
    contracts = [encode_id("Contract", c.id) for c in await models.Contract.all()]
    reads = walkthrough_reads()
    cases = []
    for block, name in reads:
        ids = contracts if CONTRACT_ID in block else [None]
        for contract in ids:
            query = block.replace(CONTRACT_ID, f'"{contract}"')
            assert not PLACEHOLDER.search(query), query
            cases.append((query, name))
    # when
    for query, name in cases:
        for token in [*tokens, None]:
            await api.raw(query, token=token, operation_name=name)
    # then: each was replayed (a difference fails the test: tests/differential.py), as gql
    # sends it: printed again
    assert len(reads) >= 2, reads
    assert len(contracts) == 6, contracts
    probe = differential.current()
    assert probe is not None, "tests/differential.py is off"
    replayed = {(o.query, o.operation_name) for o in probe.replayed}
    assert replayed == {(print_ast(parse(query)), name) for query, name in cases}
