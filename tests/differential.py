"""Every read the tests send to the app is answered again by the compiled path and by the
standard executor, as every caller the test knows, and the two must be the same bytes
(issue 9, point 4), errors included.

The app's schemas are built through `build_recorded` (tests/api/conftest.py), which keeps the
limits of each. Each query operation one of them executes (HTTP GET, POST, batches, WebSocket)
is then run, right after, against the same database state and with the same document,
variables and operation name, through two schemas of those limits of this plugin's own, one
with the compiled path and one without, as each caller: anonymous, a bad token, and every token
the test used or holds in its fixtures (`Parties`, `Member`, `Person`). The results are encoded
as the server encodes them (`app.graphql.view.encode`). A difference fails the test.

The extra runs must not change the test's own outcome: they run with no rate limits (no
`Safeguards`), their callers are looked up without the token cache or the `lastUsedAt` write
that a request makes, their statements are hidden from the statement log that tests count,
and their schemas (and so their parse, validation, limit and plan caches) are not the app's.
A test that patches something (`monkeypatch`, perhaps a spy counting what runs) has its reads
replayed after its body instead, on the state it left (tests/api/conftest.py). A replay is
skipped when nothing it reads can have changed since the same one ran: no statement other than
a SELECT, the same callers, the same clock.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable, Generator, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import pytest
from graphql import GraphQLError, OperationType, get_operation_ast, parse
from strawberry.http import process_result

from app.auth.tokens import token_digest
from app.graphql.context import Context
from app.graphql.limits import Limits
from app.graphql.schema import Schema, build_schema
from app.graphql.view import encode
from app.services import accounts
from app.services.accounts import Principal
from app.services.runtime import Runtime
from tests.api.people import Member, Parties
from tests.support import Person

BAD_TOKEN = "mse_not-a-token"

_replaying: ContextVar[bool] = ContextVar("differential_replaying", default=False)
_limits_of: dict[int, Limits | None] = {}


def build_recorded(limits: Limits | None = None) -> Schema:
    """The app's schema (`build_schema`), remembered with its limits."""
    built = build_schema(limits)
    _limits_of[id(built)] = limits
    return built


@cache
def _twin(limits: Limits | None, compiled: bool) -> Schema:
    return build_schema(limits, compiled=compiled)


@dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any] | None
    operation_name: str | None

    def key(self) -> tuple[str, str, str | None]:
        return (self.query, json.dumps(self.variables, sort_keys=True), self.operation_name)


@dataclass
class Mismatch:
    operation: Operation
    token: str | None
    compiled: bytes
    standard: bytes

    def __str__(self) -> str:
        """The caller, the operation, and both bodies from a little before their first
        difference."""
        pairs = zip(self.compiled, self.standard, strict=False)
        at = next((i for i, (a, b) in enumerate(pairs) if a != b), len(self.compiled))
        start = max(at - 80, 0)
        return (
            f"as {self.token!r}: {self.operation.query!r} {self.operation.variables!r} "
            f"{self.operation.operation_name!r}\n"
            f"  compiled: …{self.compiled[start : at + 160].decode(errors='replace')}\n"
            f"  standard: …{self.standard[start : at + 160].decode(errors='replace')}"
        )


@dataclass
class Tally:
    """What the session compared, for the summary at its end."""

    operations: set[tuple[str, str | None]] = field(default_factory=set)
    replays: int = 0
    skipped: int = 0
    comparisons: int = 0
    unsettled: int = 0  # not compared: the database kept changing under them
    mismatches: int = 0


tally = Tally()


@lru_cache(maxsize=1024)
def is_read(query: str, operation_name: str | None) -> bool:
    """Whether the document's operation is a query, or no operation runs at all (the document
    is refused, and the refusal is compared too). A mutation or subscription is not replayed."""
    try:
        operation = get_operation_ast(parse(query), operation_name)
    except GraphQLError:
        return True
    return operation is None or operation.operation is OperationType.QUERY


Caller = tuple[str | None, Principal | None]  # a bearer token, and who it is now


async def answers(
    limits: Limits | None, operation: Operation, runtime: Runtime, caller: Caller
) -> tuple[bytes, bytes]:
    """The operation's response body through the compiled path and through the standard
    executor, as `caller`."""
    token, principal = caller
    bodies = []
    for compiled in (True, False):
        context = Context(runtime=runtime, token=token, _principal=principal)
        result = await _twin(limits, compiled).execute(
            operation.query,
            operation.variables,
            context_value=context,
            operation_name=operation.operation_name,
        )
        bodies.append(encode(process_result(result)))
    return bodies[0], bodies[1]


async def settled_answers(
    limits: Limits | None, operation: Operation, runtime: Runtime, caller: Caller
) -> tuple[bytes, bytes] | None:
    """`answers`, run again if a request of the test running meanwhile (concurrent requests)
    may have changed the database between the two; None if it kept changing."""
    for _ in range(3):
        writes = _statements.writes
        bodies = await answers(limits, operation, runtime, caller)
        if _statements.writes == writes:
            return bodies
    return None


async def compare(
    limits: Limits | None, operation: Operation, runtime: Runtime, callers: Iterable[Caller]
) -> list[Mismatch]:
    """The callers for whom the two paths answer differently; the comparisons are counted."""
    mismatches = []
    for caller in callers:
        bodies = await settled_answers(limits, operation, runtime, caller)
        if bodies is None:
            tally.unsettled += 1
            continue
        compiled, standard = bodies
        tally.comparisons += 1
        if compiled != standard:
            mismatches.append(Mismatch(operation, caller[0], compiled, standard))
    tally.operations.add((operation.query, operation.operation_name))
    tally.replays += 1
    return mismatches


class _Statements(logging.Filter):
    """On the statement log (`tortoise.db_client`, which tests count with a handler of theirs,
    tests/services/test_query_counts.py), at DEBUG for the session: it hides the replays'
    statements, counts the others that may change the database (any but a SELECT), and lets
    through only what the log showed before (or a handler of a test's is there to see)."""

    def __init__(self, log: logging.Logger) -> None:
        super().__init__()
        self.log, self.shown = log, log.getEffectiveLevel()
        self.writes = self.token_writes = 0  # the latter: of the tables callers are read from

    def filter(self, record: logging.LogRecord) -> bool:
        if _replaying.get():
            return False
        args = record.args
        statement = str(args[0] if isinstance(args, tuple) and args else record.msg)
        if not statement.lstrip().upper().startswith("SELECT"):
            self.writes += 1
            self.token_writes += any(table in statement for table in ('"api_tokens"', '"users"'))
        return record.levelno >= self.shown or bool(self.log.handlers)


_statements = _Statements(logging.getLogger("tortoise.db_client"))


@dataclass
class Probe:
    """The test running now: the tokens it used, the replays done and the differences found."""

    item: pytest.Item
    pending: dict[tuple[object, ...], tuple[Limits | None, Operation, Runtime]] = field(
        default_factory=dict
    )
    used: dict[str, None] = field(default_factory=dict)
    done: set[tuple[object, ...]] = field(default_factory=set)
    principals: dict[tuple[object, ...], Principal | None] = field(default_factory=dict)
    replayed: list[Operation] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)

    def tokens(self) -> list[str | None]:
        held: list[str] = []
        for value in getattr(self.item, "funcargs", {}).values():
            if isinstance(value, Parties):
                value = [value.client, value.freelancer, value.outsider, value.admin]
            for person in value if isinstance(value, list) else [value]:
                if isinstance(person, Member | Person):
                    held.append(person.token)
        return [None, BAD_TOKEN, *dict.fromkeys([*held, *self.used])]

    async def principal(self, runtime: Runtime, token: str | None) -> Principal | None:
        """The caller of `token` as its row says now, looked up as a request would but without
        filling the token cache or writing `lastUsedAt`; again only once those rows changed."""
        if token is None:
            return None
        state = (token, runtime.clock(), _statements.token_writes)
        if state not in self.principals:
            digest = token_digest(token, runtime.secret_key)
            known = await accounts._look_up(digest, runtime.clock())
            self.principals[state] = known.principal if known else None
        return self.principals[state]

    @property
    def observed(self) -> bool:
        """Whether the test patches something (`monkeypatch`), perhaps to count what runs: its
        reads are replayed after its body, on the state it left (`replay_pending`), so that
        nothing of theirs is counted."""
        return "monkeypatch" in getattr(self.item, "fixturenames", ())

    async def read(self, limits: Limits | None, operation: Operation, runtime: Runtime) -> None:
        if self.observed:
            self.pending[(limits, operation.key())] = (limits, operation, runtime)
        else:
            await self.replay(limits, operation, runtime)

    async def replay_pending(self) -> None:
        pending, self.pending = self.pending, {}
        for limits, operation, runtime in pending.values():
            await self.replay(limits, operation, runtime)
        self.fail_on_mismatches()

    def fail_on_mismatches(self) -> None:
        if self.mismatches:
            found = "\n".join(str(m) for m in self.mismatches)
            tally.mismatches += len(self.mismatches)
            self.mismatches = []
            pytest.fail(f"the compiled path and the standard executor differ:\n{found}")

    async def replay(self, limits: Limits | None, operation: Operation, runtime: Runtime) -> None:
        """Runs the operation on both paths as every caller, unless nothing it reads changed
        since it last did."""
        tokens = self.tokens()
        state = (limits, operation.key(), tuple(tokens), runtime.clock(), _statements.writes)
        if state in self.done:
            tally.skipped += 1
            return
        self.done.add(state)
        self.replayed.append(operation)
        replaying = _replaying.set(True)
        try:
            callers = [(token, await self.principal(runtime, token)) for token in tokens]
            self.mismatches += await compare(limits, operation, runtime, callers)
        finally:
            _replaying.reset(replaying)


_probe: Probe | None = None


def current() -> Probe | None:
    """The probe of the test running now, if this plugin is on (`-p no:tests.differential`
    turns it off)."""
    return _probe


def _replayed(
    execute: Callable[..., Awaitable[Any]],
) -> Callable[..., Awaitable[Any]]:
    signature = inspect.signature(execute)

    async def replayed(self: Schema, *args: Any, **kwargs: Any) -> Any:
        result = await execute(self, *args, **kwargs)
        call = signature.bind(self, *args, **kwargs).arguments
        context = call.get("context_value")
        probe = _probe
        if (
            probe is None
            or _replaying.get()
            or id(self) not in _limits_of
            or not isinstance(context, Context)
        ):
            return result
        if context.token is not None:
            probe.used[context.token] = None
        query, name = call.get("query"), call.get("operation_name")
        if query is not None and is_read(query, name):
            operation = Operation(query, call.get("variable_values"), name)
            await probe.read(_limits_of[id(self)], operation, context.runtime)
        return result

    return replayed


@pytest.fixture(scope="session", autouse=True)
def replayed_reads() -> Generator[None]:
    log, level = _statements.log, _statements.log.level
    log.addFilter(_statements)
    log.setLevel(logging.DEBUG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Schema, "execute", _replayed(Schema.execute))
        yield
    log.setLevel(level)
    log.removeFilter(_statements)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _probe
    _probe = Probe(item)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None]:
    yield
    if _probe is not None:
        _probe.fail_on_mismatches()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None]:
    global _probe
    try:
        yield
    finally:
        _probe = None


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not tally.comparisons:
        return
    terminalreporter.write_line(
        f"differential: {len(tally.operations)} distinct read operations, replayed "
        f"{tally.replays} times ({tally.skipped} more skipped: nothing had changed), "
        f"{tally.comparisons} comparisons of the compiled path with "
        f"the standard executor (one per caller; {tally.unsettled} left out: the database "
        f"kept changing), {tally.mismatches} differences"
    )
