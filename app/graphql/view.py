"""The GraphQL ASGI endpoint: HTTP (GET and POST) and WebSocket on one path.

HTTP follows GraphQL over HTTP (docs/transport.md): the response is in the media type the
client prefers (`application/graphql-response+json` or `application/json`), and in the first a
request that fails before execution is HTTP 400 without `data`. A request refused before
GraphQL runs (a body that is not a JSON object, a mutation by GET) is answered with a JSON
`errors` body carrying `extensions.code`, rather than strawberry's plain text; a 405 says which
methods would do in `Allow`. A JSON array is a batch (Apollo's BatchHttpLink), its operations
run one after another; `extensions.persistedQuery` is an automatic persisted query
(app.graphql.persisted).

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
from starlette import status
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UnsetType

from app.auth.tokens import bearer_token
from app.graphql.context import Context, Safeguards
from app.graphql.errors import UNAVAILABLE_MESSAGE, ApiError, logger
from app.graphql.persisted import PersistedQueries
from app.graphql.sockets import GuardedLegacyWSHandler, TransportWSHandler
from app.services.outage import is_unavailable
from app.services.runtime import Runtime
from app.web.media_types import GRAPHQL_RESPONSE_JSON, JSON, response_media_type
from app.web.ratelimit import refusal_result

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


ALLOWED_METHODS = "GET, POST"


class MethodNotAllowed(HTTPException):
    """A 405, with the methods the request could have used (its `Allow` header)."""

    def __init__(self, reason: str, allow: str = ALLOWED_METHODS) -> None:
        super().__init__(405, reason)
        self.allow = allow


def error_result(code: str, message: str) -> GraphQLHTTPResponse:
    """The body of a request refused before GraphQL ran: `errors` only, no `data`."""
    return {"errors": [{"message": message, "extensions": {"code": code}}]}


def refused(error: HTTPException, media_type: str) -> Response:
    headers = {"allow": error.allow} if isinstance(error, MethodNotAllowed) else None
    return Response(
        encode(error_result("BAD_REQUEST", error.reason)),
        status_code=error.status_code,
        headers=headers,
        media_type=media_type,
    )


def _before_execution(result: ExecutionResult) -> bool:
    """Whether the request failed before execution began (syntax, validation, variables, a
    request limit): no data, and no error belongs to a field."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


def _operation(data: object) -> GraphQLRequestData:
    """One operation of a request (by GET its query-string parameters), its fields' types
    checked."""
    if not isinstance(data, dict):
        raise HTTPException(400, "Each operation of a batch must be a JSON object")
    for name, kind, described in (
        ("query", str, "a string"),
        ("operationName", str, "a string"),
        ("variables", dict, "an object"),
        ("extensions", dict, "an object"),
    ):
        if not isinstance(data.get(name), kind | None):
            raise HTTPException(400, f"The operation's `{name}` must be {described} or null")
    return GraphQLRequestData(
        query=data.get("query"),
        variables=data.get("variables"),
        operation_name=data.get("operationName"),
        extensions=data.get("extensions"),
    )


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
        persisted: PersistedQueries,
        max_batch: int,
        keep_alive_interval: float,
        safeguards: Safeguards | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql_html is not None else None,
            allow_queries_via_get=True,
            keep_alive=True,
            keep_alive_interval=keep_alive_interval,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            connection_init_wait_timeout=timedelta(seconds=10),
            allowed_origins=allowed_origins,
        )
        self.runtime = runtime
        self.safeguards = safeguards
        self.persisted = persisted
        self.max_batch = max_batch
        self.graphiql_html = graphiql_html or ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """WebSockets as strawberry serves them; HTTP by `serve`, a refused request with a JSON
        `errors` body in the media type the client asked for."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        media_type = response_media_type(request.headers.get("accept"))
        try:
            response = await self.serve(request, media_type)
        except HTTPException as error:
            response = refused(error, media_type)
        await response(scope, receive, send)

    async def serve(self, request: Request, media_type: str) -> Response:
        """strawberry's `run` for HTTP, with batches run one operation after another, each
        counted by the rate limits, persisted queries, and GraphQL over HTTP's status codes."""
        adapter = self.request_adapter_class(request)
        if not self.is_request_allowed(adapter):
            raise MethodNotAllowed("GraphQL only supports GET and POST requests")
        if self.should_render_graphql_ide(adapter):
            if self.graphql_ide:
                return await self.render_graphql_ide(request)
            raise HTTPException(404, "Not Found")
        operations = await self.parse_http_body(adapter)
        sub_response = await self.get_sub_response(request)
        body: GraphQLHTTPResponse | list[GraphQLHTTPResponse]
        if isinstance(operations, list):
            body = []
            for index, operation in enumerate(operations):
                answer = self._answer(request, adapter, operation, sub_response, media_type, index)
                body.append((await answer)[0])
            status_code = status.HTTP_200_OK
        else:
            body, status_code = await self._answer(
                request, adapter, operations, sub_response, media_type
            )
        sub_response.status_code = status_code
        sub_response.media_type = media_type
        return self.create_response(body, sub_response)

    async def _answer(
        self,
        request: Request,
        adapter: AsyncHTTPRequestAdapter,
        operation: GraphQLRequestData,
        sub_response: Response,
        media_type: str,
        batch_index: int | None = None,
    ) -> tuple[GraphQLHTTPResponse, int]:
        """One operation's result and HTTP status. An operation of a batch after the first
        (which the rate-limit middleware counted with the request) is counted here, and what
        would refuse a lone request with a 4xx is that operation's error. A request error is
        HTTP 400 without `data` in application/graphql-response+json; application/json keeps
        HTTP 200 and `"data": null`."""
        context = await self.get_context(request, sub_response)
        if batch_index and self.safeguards is not None:
            refusal = await self.safeguards.rate_limits.request(context.token, context.address)
            if refusal is not None:
                sub_response.headers["retry-after"] = str(refusal.retry_after)
                return refusal_result(refusal), status.HTTP_200_OK
        try:
            operation.query = await self.persisted.document(operation.query, operation.extensions)
            result = await self._execute(request, adapter, operation, context, sub_response)
        except ApiError as error:  # of a persisted query: not found (200), malformed (400)
            bad = error.code == "BAD_REQUEST"
            return error_result(error.code, str(error)), 400 if bad else status.HTTP_200_OK
        except HTTPException as error:
            if batch_index is None:
                raise
            return error_result("BAD_REQUEST", error.reason), error.status_code
        body = await self.process_result(request, result)
        if media_type == GRAPHQL_RESPONSE_JSON and _before_execution(result):
            del body["data"]
            return body, status.HTTP_400_BAD_REQUEST
        return body, status.HTTP_200_OK

    async def _execute(
        self,
        request: Request,
        adapter: AsyncHTTPRequestAdapter,
        operation: GraphQLRequestData,
        context: Context,
        sub_response: Response,
    ) -> ExecutionResult:
        """strawberry's `execute_single`, but a mutation sent by GET is 405 Method Not Allowed."""
        try:
            return await self.execute_single(
                request=request,
                request_adapter=adapter,
                sub_response=sub_response,
                context=context,
                root_value=None,
                request_data=operation,
            )
        except HTTPException as error:
            cause = error.__cause__
            if (
                isinstance(cause, InvalidOperationTypeError)
                and cause.operation_type is OperationType.MUTATION
            ):
                raise MethodNotAllowed("A mutation must be sent by POST", allow="POST") from error
            raise

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """A GET's query string, or a POST's JSON body: one operation, or a batch of at most
        `max_batch`. Only `application/json` bodies are read (no forms, no uploads)."""
        if request.method == "GET":
            data: object = self.parse_query_params(request.query_params)
        elif parse_content_type(request.content_type or "")[0] == "application/json":
            data = self.parse_json(await request.get_body())
        else:
            raise HTTPException(400, "Unsupported content type: send application/json")
        if not isinstance(data, list):
            return _operation(data)
        if not data:
            raise HTTPException(400, "A batch holds at least one operation")
        if len(data) > self.max_batch:
            raise HTTPException(400, f"A batch holds at most {self.max_batch} operations")
        return [_operation(item) for item in data]

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """As strawberry's, but a GET carrying a persisted query's hash is a query."""
        params = request.query_params
        return "extensions" not in params and super().should_render_graphql_ide(request)

    def encode_json(self, data: object) -> str:
        """A str, which the WebSocket handlers send as a text frame (bytes go as binary)."""
        return encode(data).decode()

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        """As strawberry's, with the body encoded straight to bytes."""
        response = Response(encode(response_data), media_type=sub_response.media_type or JSON)
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
            raise HTTPException(400, "The request body must be a JSON object or an array of them")
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

    async def render_graphql_ide(self, request: Request) -> Response:
        return HTMLResponse(self.graphiql_html)
