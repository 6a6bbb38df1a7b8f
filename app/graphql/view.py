"""The GraphQL ASGI endpoint: HTTP (GET and POST) and WebSocket on one path."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema import BaseSchema
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.auth.tokens import bearer_token
from app.graphql.context import Context
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

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphiql_html)
