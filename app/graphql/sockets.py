"""WebSocket handlers (both subprotocols) that keep checking the socket's token.

strawberry checks credentials once, at `connection_init`. Here every operation that arrives on
an acknowledged socket first re-checks that its token still works and counts against the rate
limits of its token and address, and the socket's token is held in the process's TokenWatch:
once the token is revoked or expires, on whichever process, every operation of the socket ends
with an `UNAUTHENTICATED` error and the socket closes with 4403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ConnectionInitMessage as LegacyConnectionInitMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    DataMessage,
    DataMessagePayload,
    StartMessage,
)
from strawberry.types import ExecutionResult

from app.graphql.context import Context
from app.graphql.errors import graphql_error

REVOKED_CLOSE_CODE = 4403
REVOKED_REASON = "The token was revoked or has expired"


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


class GuardedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = SocketGuard(self.end_revoked)

    async def handle(self) -> None:
        try:
            await super().handle()
        finally:
            self.guard.closed()

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        if self.connection_acknowledged:
            self.guard.acknowledged(self.context)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        async def refuse(error: GraphQLError) -> None:
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )

        if self.connection_acknowledged and not await self.guard.admit(self.context, refuse):
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
        await self.websocket.close(code=REVOKED_CLOSE_CODE, reason=REVOKED_REASON)


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

        if self.connection_acknowledged and not await self.guard.admit(self.context, refuse):
            return
        await super().handle_start(message)

    async def end_revoked(self) -> None:
        """End every operation with UNAUTHENTICATED, then close the socket with 4403."""
        if not self.guard.first_end():
            return
        payload: DataMessagePayload = {"data": None, "errors": [revoked_error().formatted]}
        for operation_id in list(self.tasks):
            await self.send_message(DataMessage(type="data", id=operation_id, payload=payload))
            await self.cleanup_operation(operation_id)  # sends its `complete`
        await self.websocket.close(code=REVOKED_CLOSE_CODE, reason=REVOKED_REASON)
