"""The GraphQL ASGI endpoint: HTTP (GET and POST) and WebSocket on one path.

A request refused before GraphQL runs (a body that is not a JSON object, a mutation by GET)
is answered with a JSON `errors` body carrying `extensions.code: BAD_REQUEST`, as a refused
GraphQL request is, rather than strawberry's plain text.

Responses are encoded by orjson, byte for byte as strawberry's `json.dumps(data,
separators=(",", ":"))` would encode them; see `encode`.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError
from starlette import status
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.types import ExecutionResult, SubscriptionExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from app.auth.tokens import bearer_token
from app.graphql.context import Context, Safeguards
from app.graphql.errors import UNAVAILABLE_MESSAGE, ApiError, logger
from app.graphql.sockets import GuardedLegacyWSHandler, GuardedTransportWSHandler
from app.services.outage import is_unavailable
from app.services.runtime import Runtime


class TransportWSHandler(GuardedTransportWSHandler):
    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        """A syntax error is answered with an `error` message for its operation, as any other
        refused document is, rather than by closing the whole socket (4400)."""
        if isinstance(error, GraphQLSyntaxError):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)


# Without these, orjson would encode dataclasses, datetimes and subclasses of str or int its
# own way, where json.dumps refuses them or encodes them otherwise. (It encodes an Enum, which
# json.dumps refuses, but graphql-core has serialized every enum to its name by then.)
_STRICT = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_STRICT |= orjson.OPT_PASSTHROUGH_SUBCLASS


def _escape(error: UnicodeError) -> tuple[str, int]:
    """json.dumps's `\\uXXXX` (a surrogate pair above U+FFFF) for what ASCII cannot hold."""
    assert isinstance(error, UnicodeEncodeError)
    escaped = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            escaped.append(f"\\u{0xD800 | code >> 10:04x}\\u{0xDC00 | code & 0x3FF:04x}")
        else:
            escaped.append(f"\\u{code:04x}")
    return "".join(escaped), error.end


codecs.register_error("app.json_escape", _escape)


def encode(data: object) -> bytes:
    """`json.dumps(data, separators=(",", ":"))`, as bytes, by orjson.

    The two agree on dicts, lists, str, int, bool and None (a response holds no float: the
    schema has no Float) except where json.dumps escapes a character and orjson does not:
    DEL and every non-ASCII character (ensure_ascii), which only strings hold, so they are
    escaped here after orjson. What orjson refuses (a lone surrogate, an int over 64 bits, a
    non-str key) goes to json.dumps.
    """
    try:
        encoded = orjson.dumps(data, option=_STRICT)
    except TypeError:  # orjson.JSONEncodeError is one
        return json.dumps(data, separators=(",", ":")).encode()
    if not encoded.isascii():
        encoded = encoded.decode().encode("ascii", "app.json_escape")
    return encoded.replace(b"\x7f", b"\\u007f")


def refused(error: HTTPException) -> Response:
    body = {"errors": [{"message": error.reason, "extensions": {"code": "BAD_REQUEST"}}]}
    return JSONResponse(body, status_code=error.status_code)


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = GuardedLegacyWSHandler

    def __init__(
        self,
        schema: BaseSchema,
        runtime: Runtime,
        *,
        graphiql_html: str | None,
        allowed_origins: Sequence[str],
        safeguards: Safeguards | None = None,
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
        self.safeguards = safeguards
        self.graphiql_html = graphiql_html or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """As strawberry's, but a refused HTTP request gets a JSON `errors` body."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as error:
            response = refused(error)
        await response(scope, receive, send)

    def encode_json(self, data: object) -> str:
        """A str, which the WebSocket handlers send as a text frame (bytes go as binary)."""
        return encode(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """As strawberry's, with the body encoded straight to bytes."""
        response = Response(encode(response_data), media_type="application/json")
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        response.status_code = sub_response.status_code or status.HTTP_200_OK
        return response

    def parse_json(self, data: str | bytes) -> Any:
        """As strawberry's, and also a 400 for bytes that are not UTF-8 (JSON is UTF-8 whatever
        charset the content type names), for JSON nested too deep for the parser, and for a
        request body (the only JSON strawberry hands over as bytes) that is neither an object
        nor a list (a batch)."""
        try:
            value = super().parse_json(data)
        except (UnicodeDecodeError, RecursionError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if isinstance(data, bytes) and not isinstance(value, dict | list):
            raise HTTPException(400, "The request body must be a JSON object")
        return value

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            runtime=self.runtime,
            token=bearer_token(request.headers.get("authorization")),
            safeguards=self.safeguards,
            address=request.client.host if request.client else "unknown",
            response=response if isinstance(response, Response) else None,
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
        except Exception as error:
            if not is_unavailable(error):
                raise
            logger.warning(
                "Refused a WebSocket: the database is unavailable (%s)", type(error).__name__
            )
            raise ConnectionRejectionError({"message": UNAVAILABLE_MESSAGE}) from None
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
