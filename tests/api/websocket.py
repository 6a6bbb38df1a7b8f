"""A WebSocket session with the in-process app, spoken over the ASGI interface directly.

httpx's ASGI transport has no WebSocket support, and Starlette's TestClient runs the app on
another event loop than the one the database connections belong to; this client runs the app
as a task on the test's own loop and exchanges JSON messages through two queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import ASGIApp, Message

TIMEOUT = 5.0


class WebSocketSession:
    def __init__(self, app: ASGIApp, subprotocol: str) -> None:
        self.app = app
        self.subprotocol = subprotocol
        self.inbound: asyncio.Queue[Message] = asyncio.Queue()
        self.outbound: asyncio.Queue[Message] = asyncio.Queue()
        self.accepted: str | None = None
        self.close_code: int | None = None

    async def _receive(self) -> Message:
        return await self.inbound.get()

    async def _send(self, message: Message) -> None:
        await self.outbound.put(message)

    def scope(self) -> dict[str, Any]:
        return {
            "type": "websocket",
            "asgi": {"version": "3.0"},
            "scheme": "ws",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"sec-websocket-protocol", self.subprotocol.encode()),
            ],
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "subprotocols": [self.subprotocol],
            "state": {},
        }

    async def send(self, message: dict[str, Any]) -> None:
        await self.inbound.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict[str, Any] | None:
        """The next JSON message from the server, or None once it has closed the socket."""
        message = await asyncio.wait_for(self.outbound.get(), TIMEOUT)
        if message["type"] == "websocket.close":
            self.close_code = message.get("code", 1000)
            return None
        decoded: dict[str, Any] = json.loads(message["text"])
        return decoded

    async def messages_for(self, operation_id: str) -> list[dict[str, Any]]:
        """Every message about one operation up to and including the one that ends it."""
        found: list[dict[str, Any]] = []
        while True:
            message = await self.receive()
            if message is None:
                return found
            if message.get("id") != operation_id:
                continue
            found.append(message)
            if message["type"] in ("complete", "error"):
                return found


@contextlib.asynccontextmanager
async def websocket(app: ASGIApp, subprotocol: str, token: str) -> AsyncIterator[WebSocketSession]:
    """An acknowledged session: connected and `connection_init` sent with the token."""
    session = WebSocketSession(app, subprotocol)

    async def serve() -> None:
        await app(session.scope(), session._receive, session._send)

    task = asyncio.create_task(serve())
    try:
        await session.inbound.put({"type": "websocket.connect"})
        accept = await asyncio.wait_for(session.outbound.get(), TIMEOUT)
        assert accept["type"] == "websocket.accept", accept
        session.accepted = accept.get("subprotocol")
        await session.send(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        )
        ack = await session.receive()
        assert ack is not None and ack["type"] == "connection_ack", ack
        yield session
    finally:
        await session.inbound.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(task, TIMEOUT)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
