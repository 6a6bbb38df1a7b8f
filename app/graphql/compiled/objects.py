"""Objects of a response written by the compiled read path from rows the caller holds (a
subscription's event, the contract or milestone a mutation touched) rather than from the root
fields of a query. Their selections are compiled once per document, operation, response path
and Boolean variables (as `extension.Plans` keys a query's plan), the rows below them are loaded
breadth-first by `run.Run`, and each object is written by its `write.writer`.

A selection the planner does not cover raises `NotCovered` (kept as None by `Kept`): the caller
builds its strawberry objects instead, and graphql-core completes them as before.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import VariableValues

from app.graphql.compiled.plan import Compiler, Field, Kind, NotCovered, Plan
from app.graphql.compiled.run import Fallback, Run
from app.graphql.compiled.write import Prepared, prepare
from app.graphql.context import Info
from app.graphql.errors import ApiError
from app.services.accounts import Principal
from app.services.read_rows import Row

KEPT = 256
PlanT = TypeVar("PlanT")
# what makes a planned run leave the answer to the standard executor, as for a query
# (`extension.answer`): a shape the run does not serve, or a refusal the standard path words
UNWRITTEN = (Fallback, ApiError, GraphQLError)


def resolve_info(info: Info) -> GraphQLResolveInfo[Any]:
    """graphql-core's resolve info of the field (strawberry keeps it as `_raw_info`): its
    selection, fragments and variables."""
    return info._raw_info


def variables(info: GraphQLResolveInfo[Any]) -> VariableValues:
    """The operation's coerced variables, as the planner and the run read them (strawberry
    hands resolvers the coerced values alone)."""
    coerced: dict[str, Any] = info.variable_values  # type: ignore[assignment]
    return VariableValues({}, coerced)


def compiler(info: GraphQLResolveInfo[Any]) -> Compiler:
    return Compiler(info.schema, info.fragments, variables(info))


def _shows(selection: Iterable[Field]) -> bool:
    return any(f.kind is Kind.SHOWN or _shows(f.selection) for f in selection)


@dataclass(frozen=True, eq=False)
class Objects:
    """The writers of some objects by response key (each a `Kind.NESTED` root of the plan), and
    whether any shows a user's private fields (then what it writes depends on the viewer).
    Compared by identity, so that what it wrote may be kept under it."""

    prepared: Prepared
    private: bool

    @classmethod
    def of(cls, roots: tuple[Field, ...]) -> Objects:
        return cls(prepare(Plan(roots)), _shows(roots))

    @property
    def roots(self) -> tuple[Field, ...]:
        return self.prepared.plan.fields

    def start(self, info: Info, principal: Principal | None) -> Run:
        """A run to find the roots' rows with and write them."""
        run = Run(info.context, variables(resolve_info(info)), None)
        run.principal, run.columns = principal, self.prepared.columns
        return run

    async def write(self, run: Run, rows: Mapping[str, Row | None]) -> dict[str, Any]:
        """Each root's object written from its row (None for none); `run.objects` counts the
        objects of their lists."""
        for field in self.roots:
            row = rows.get(field.key)
            if row is not None:
                await run.load(field.selection, [row])
        written: dict[str, Any] = {}
        for key, write in self.prepared.writers.items():
            row = rows.get(key)
            written[key] = None if row is None else write(run, row, "")
        return written


def flags(variables: VariableValues) -> tuple[tuple[str, bool], ...]:
    """The Boolean variables, on which `@skip` and `@include` make a selection depend."""
    return tuple(sorted((k, v) for k, v in variables.coerced.items() if isinstance(v, bool)))


def plan_key(info: GraphQLResolveInfo[Any]) -> Hashable | None:
    """What the selection of the field being resolved depends on; None for a document without
    its source (then not kept)."""
    operation = info.operation
    if operation.loc is None:
        return None
    name = operation.name.value if operation.name else None
    return (operation.loc.source.body, name, tuple(info.path.as_list()), flags(variables(info)))


class Kept(Generic[PlanT]):
    """Plans by key, the latest `maxsize` of them; None for a shape not covered."""

    def __init__(self, maxsize: int = KEPT) -> None:
        self.maxsize = maxsize
        self.plans: OrderedDict[Hashable, PlanT | None] = OrderedDict()

    def plan(self, key: Hashable, compile: Callable[[], PlanT]) -> PlanT | None:
        """The plan kept under `key`, compiled by `compile` the first time."""
        if key in self.plans:
            self.plans.move_to_end(key)
            return self.plans[key]
        try:
            plan: PlanT | None = compile()
        except NotCovered:
            plan = None
        self.plans[key] = plan
        if len(self.plans) > self.maxsize:
            self.plans.popitem(last=False)
        return plan

    def of_field(self, info: GraphQLResolveInfo[Any], compile: Callable[[], PlanT]) -> PlanT | None:
        """The plan of the field being resolved (`plan_key`)."""
        key = plan_key(info)
        return None if key is None else self.plan(key, compile)
