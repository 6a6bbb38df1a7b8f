"""WebSocket handlers (both subprotocols, docs/subscriptions.md) that keep checking the
socket's token, run every operation type, and keep idle sockets alive.

strawberry checks credentials once, at `connection_init`. Here every operation that arrives on
an acknowledged socket first re-checks that its token still works and counts against the rate
limits of its token and address, and the socket's token is held in the process's TokenWatch:
once the token is revoked or expires, on whichever process, every operation of the socket ends
with an `UNAUTHENTICATED` error and the socket closes with 4403.

strawberry's legacy `graphql-ws` handler runs every `start` as a subscription, so a query or a
mutation (what gql's WebsocketsTransport sends first, for the schema) failed with INTERNAL: here
it runs any operation. On `graphql-transport-ws` strawberry never pings, and closes a refused
`connection_init` with a bare "Forbidden": here the server pings an acknowledged socket every
keep-alive interval (the legacy protocol has its `ka`), so that NAT and proxies do not drop an
idle connection, and the close reason carries the refusal's message. An operation may name
its document by an automatic persisted query's hash (app.graphql.persisted), as over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from enum import Enum
from typing import Any, Protocol, cast

from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    DataMessage,
    DataMessagePayload,
    ErrorMessage,
    StartMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.types import ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.unset import UnsetType

from app.graphql.context import Context
from app.graphql.errors import ApiError, bad_request, graphql_error
from app.graphql.persisted import PersistedQueries

FORBIDDEN_CLOSE_CODE = 4403  # a refused connection_init, or a revoked or expired token
REVOKED_REASON = "The token was revoked or has expired"
MAX_CLOSE_REASON_BYTES = 123  # what a close frame holds (RFC 6455 section 5.5)


def refusal_reason(error: ConnectionRejectionError) -> str:
    """The close reason of a refused `connection_init`: the refusal's message, cut to what a
    close frame holds."""
    payload = error.payload
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, str) or not message:
        return "Forbidden"
    return message.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class Persisting(Protocol):
    """The view (app.graphql.view, which imports this module) as far as sockets need it."""

    persisted: PersistedQueries


async def document_of(view: object, payload: object) -> str:
    """The document an operation runs: the payload's `query`, or the persisted query that its
    `extensions` name. Raises `ApiError` (BAD_REQUEST, PERSISTED_QUERY_NOT_FOUND, ...)."""
    if not isinstance(payload, Mapping):
        raise bad_request("The message needs a payload object with a query")
    query = payload.get("query")
    extensions = payload.get("extensions")
    if query is not None and not isinstance(query, str):
        raise bad_request("The payload's query must be a string")
    if extensions is not None and not isinstance(extensions, Mapping):
        raise bad_request("The payload's extensions must be an object")
    document = await cast(Persisting, view).persisted.document(query, extensions)
    if document is None:
        raise bad_request("The payload needs a query (or a persisted query's hash)")
    return document


class Verdict(Enum):
    ADMIT = "admit"
    RATE_LIMITED = "rate limited"
    REVOKED = "revoked"


def revoked_error() -> GraphQLError:
    return graphql_error("UNAUTHENTICATED", REVOKED_REASON)


async def judge(context: Context) -> tuple[Verdict, GraphQLError | None]:
    """Whether an operation arriving on this socket may run."""
    safeguards = context.safeguards
    if safeguards is None:
        return Verdict.ADMIT, None
    token_id = context.token_id
    if token_id is not None and not await safeguards.tokens.still_works(token_id):
        return Verdict.REVOKED, revoked_error()
    refusal = await safeguards.rate_limits.request(context.token, context.address)
    if refusal is not None:
        return Verdict.RATE_LIMITED, graphql_error("RATE_LIMITED", refusal.message)
    return Verdict.ADMIT, None


class SocketGuard:
    """What both protocols' handlers share: the socket's token held in the TokenWatch while the
    socket is open, every arriving operation judged, and the socket ended once."""

    def __init__(self, end: Callable[[], Awaitable[None]]) -> None:
        self._end = end
        self._release: Callable[[], None] | None = None
        self._ended = False

    def acknowledged(self, context: Context) -> None:
        token_id = context.token_id
        if self._release is None and context.safeguards is not None and token_id is not None:
            self._release = context.safeguards.tokens.hold(token_id, self._end)

    def closed(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None

    async def admit(
        self, context: Context, refuse: Callable[[GraphQLError], Awaitable[None]]
    ) -> bool:
        """Whether the operation may run; if not, it was refused, and a revoked socket ended."""
        verdict, error = await judge(context)
        if error is not None:
            await refuse(error)
        if verdict is Verdict.REVOKED:
            await self._end()
        return verdict is Verdict.ADMIT

    def first_end(self) -> bool:
        """True the first time the socket is to be ended, False after."""
        if self._ended:
            return False
        self._ended = True
        self.closed()
        return True


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = SocketGuard(self.end_revoked)
        self.pings: asyncio.Task[None] | None = None

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.guard.closed()
            if self.pings is not None:
                self.pings.cancel()
                with contextlib.suppress(BaseException):
                    await self.pings

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """As strawberry's, but a refusal's close (4403) carries its message, and an
        acknowledged socket is guarded and pinged."""
        if self.connection_timed_out:
            return
        if self.connection_init_timeout_task:
            self.connection_init_timeout_task.cancel()
        payload = message.get("payload", {})
        if not isinstance(payload, dict):
            await self.websocket.close(code=4400, reason="Invalid connection init payload")
            return
        if self.connection_init_received:
            await self.websocket.close(code=4429, reason="Too many initialisation requests")
            return
        self.connection_init_received = True
        self.context.connection_params = payload
        try:
            acknowledgement = await self.view.on_ws_connect(self.context)
        except ConnectionRejectionError as error:
            await self.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=refusal_reason(error))
            return
        if isinstance(acknowledgement, UnsetType) or acknowledgement is None:
            await self.send_message({"type": "connection_ack"})
        else:
            await self.send_message({"type": "connection_ack", "payload": acknowledgement})
        self.connection_acknowledged = True
        self.guard.acknowledged(self.context)
        interval = self.view.keep_alive_interval
        if self.view.keep_alive and interval:
            self.pings = asyncio.create_task(self.ping_every(interval))
            self.pings.add_done_callback(self._task_done)

    async def ping_every(self, interval: float) -> None:
        """The server's keep-alive: a `ping` (the client answers `pong`) every `interval`."""
        while True:
            await asyncio.sleep(interval)
            await self.send_message({"type": "ping"})

    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        """A syntax error is answered with an `error` message for its operation, as any other
        refused document is, rather than by closing the whole socket (4400)."""
        if isinstance(error, GraphQLSyntaxError):
            return None
        return BaseGraphQLTransportWSHandler._get_pre_execution_close_reason(error)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        async def refuse(error: GraphQLError) -> None:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )

        if self.connection_acknowledged:
            if not await self.guard.admit(self.context, refuse):
                return
            try:
                message["payload"]["query"] = await document_of(self.view, message["payload"])
            except ApiError as error:
                await refuse(graphql_error(error.code, str(error)))
                return
        await super().handle_subscribe(message)

    async def end_revoked(self) -> None:
        """End every operation with UNAUTHENTICATED, then close the socket with 4403."""
        if not self.guard.first_end():
            return
        error = revoked_error()
        for operation in list(self.operations.values()):
            await operation.send_next(ExecutionResult(data=None, errors=[error]))
            await operation.send_operation_message({"id": operation.id, "type": "complete"})
            if operation.task is not None:
                operation.task.cancel()
        await self.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=REVOKED_REASON)


class GuardedLegacyWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws, the legacy protocol."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = SocketGuard(self.end_revoked)

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.guard.closed()

    async def handle_connection_init(self, message: LegacyConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.guard.acknowledged(self.context)

    async def handle_start(self, message: StartMessage) -> None:
        async def refuse(error: GraphQLError) -> None:
            await self.send_message(
                {"type": "error", "id": message["id"], "payload": error.formatted}
            )

        if self.connection_acknowledged:
            if not await self.guard.admit(self.context, refuse):
                return
            try:
                message["payload"]["query"] = await document_of(self.view, message.get("payload"))
            except ApiError as error:
                await refuse(graphql_error(error.code, str(error)))
                return
        await super().handle_start(message)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """As strawberry's, but by `schema.stream`, which runs a query or a mutation too (one
        `data` message, then `complete`), where `schema.subscribe` refuses them."""
        try:
            source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=self.context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = source
            first = True
            async for result in source:
                if first and isinstance(result, PreExecutionError):
                    assert result.errors
                    error = result.errors[0].formatted
                    await self.send_message(
                        ErrorMessage(type="error", id=operation_id, payload=error)
                    )
                    return
                assert isinstance(result, ExecutionResult)  # no incremental delivery here
                await self.send_data_message(result, operation_id)
                first = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)

    async def end_revoked(self) -> None:
        """End every operation with UNAUTHENTICATED, then close the socket with 4403."""
        if not self.guard.first_end():
            return
        payload: DataMessagePayload = {"data": None, "errors": [revoked_error().formatted]}
        for operation_id in list(self.tasks):
            await self.send_message(DataMessage(type="data", id=operation_id, payload=payload))
            await self.cleanup_operation(operation_id)  # sends its `complete`
        await self.websocket.close(code=FORBIDDEN_CLOSE_CODE, reason=REVOKED_REASON)
