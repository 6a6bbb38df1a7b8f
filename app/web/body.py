"""The request body limit: HTTP 413 with a GraphQL-shaped JSON `errors` body past `max_bytes`.

Starlette's `RequestBodyLimitMiddleware` counts the same way but answers in plain text, and
looks at `Content-Length` only once the app starts reading. Here a declared length over the
limit is refused before the app runs, and a body without one (chunked) is counted message by
message as the app reads it from the ASGI receive stream, and refused as soon as it passes the
limit: a large body is never read whole. A WebSocket message over the limit closes its socket.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.media_types import response_media_type


class _TooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _declared_length(scope: Scope) -> int | None:
    try:
        return int(_header(scope, b"content-length") or "")
    except ValueError:
        return None


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.app(scope, self._limit_messages(receive, send), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(scope, send)

    def _limit_messages(self, receive: Receive, send: Send) -> Receive:
        """A WebSocket message over the limit closes the socket (1009, message too big) and
        reaches the app as the disconnect it is."""

        async def limited_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                data = message.get("text") or message.get("bytes") or b""
                size = len(data.encode()) if isinstance(data, str) else len(data)
                if size > self.max_bytes:
                    reason = f"A message is larger than the limit of {self.max_bytes} bytes"
                    await send({"type": "websocket.close", "code": 1009, "reason": reason})
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        return limited_receive

    async def _refuse(self, scope: Scope, send: Send) -> None:
        error = {
            "message": f"The request body is larger than the limit of {self.max_bytes} bytes",
            "extensions": {"code": "BAD_REQUEST"},
        }
        body = json.dumps({"errors": [error]}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", response_media_type(_header(scope, b"accept")).encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
