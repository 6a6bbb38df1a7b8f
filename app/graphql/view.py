"""The GraphQL ASGI endpoint: HTTP (GET and POST) and WebSocket on one path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from app.auth.tokens import bearer_token
from app.graphql.context import Context
from app.graphql.errors import ApiError
from app.services.runtime import Runtime


class GraphQLEndpoint(GraphQL[Context, None]):
    def __init__(
        self,
        schema: BaseSchema,
        runtime: Runtime,
        *,
        graphiql_html: str | None,
        allowed_origins: Sequence[str],
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql_html is not None else None,
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=15,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            allowed_origins=allowed_origins,
        )
        self.runtime = runtime
        self.graphiql_html = graphiql_html or ""

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            runtime=self.runtime, token=bearer_token(request.headers.get("authorization"))
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """The token comes in the `connection_init` payload; without a valid one, no socket."""
        params = context.connection_params or {}
        header = params.get("Authorization") or params.get("authorization")
        context.token = bearer_token(header) if isinstance(header, str) else None
        try:
            principal = await context.principal() if context.token else None
        except ApiError:
            principal = None
        if principal is None:
            raise ConnectionRejectionError({"message": "A valid bearer token is required"})
        return UnsetType()

    async def execute_operation(
        self,
        request: Request,
        request_adapter: AsyncHTTPRequestAdapter,
        request_data: GraphQLRequestData | list[GraphQLRequestData],
        context: Context,
        root_value: None,
        sub_response: Response,
    ) -> ExecutionResult | list[ExecutionResult] | SubscriptionExecutionResult:
        """As strawberry's, but a mutation sent by GET is 405 Method Not Allowed."""
        try:
            return await super().execute_operation(
                request, request_adapter, request_data, context, root_value, sub_response
            )
        except HTTPException as error:
            cause = error.__cause__
            if (
                isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
            ):
                raise HTTPException(405, "A mutation must be sent by POST") from error
            raise

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphiql_html)
