"""Values the compiled path wrote whole (a mutation's payload, a subscription's event), and the
execution that hands them on as they are: graphql-core would otherwise complete them field by
field, as it completes what a resolver returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLOutputType, GraphQLResolveInfo
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


@dataclass(frozen=True, slots=True)
class Written:
    """The response value of one field, and the objects of the lists in it (for the limit on
    objects per event)."""

    data: dict[str, Any]
    objects: int = 0


class WrittenExecution(StrawberryGraphQLCoreExecutionContext):
    def complete_value(
        self,
        return_type: GraphQLOutputType,
        field_details_list: Any,
        info: GraphQLResolveInfo[Any],
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if isinstance(result, Written):
            self.wrote(result, info)
            return result.data
        return super().complete_value(
            return_type, field_details_list, info, path, result, position_context
        )

    def wrote(self, written: Written, info: GraphQLResolveInfo[Any]) -> None:
        """Each value handed on whole, for a subclass to account for (its objects)."""


def writes_whole(info: GraphQLResolveInfo[Any]) -> bool:
    """Whether the schema running this field hands a `Written` value on as it is."""
    schema = getattr(info.schema, "_strawberry_schema", None)
    execution = getattr(schema, "execution_context_class", None)
    return isinstance(execution, type) and issubclass(execution, WrittenExecution)
