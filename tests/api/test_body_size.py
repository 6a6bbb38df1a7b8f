"""Request bodies over MAX_BODY_BYTES (issue 7, point 5): HTTP 413 with a JSON `errors` body,
refused from Content-Length before the body is read, and while reading when no length is
given, so a 50 MB body is never read whole."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.types import Message

from tests.api.client import Api
from tests.api.people import Parties
from tests.api.websocket import websocket

MB = 1_000_000


async def post(api: Api, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app), base_url="http://testserver"
    ) as client:
        return await client.post(
            "/graphql",
            content=content,
            headers={"content-type": "application/json", **(headers or {})},
        )


def assert_refused_as_too_large(status: int, body: bytes) -> None:
    assert status == 413
    errors = json.loads(body)["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
    assert "1000000 bytes" in errors[0]["message"]


def padded_request(size: int) -> bytes:
    """A valid GraphQL request of exactly `size` bytes."""
    start = b'{"query": "{ __typename }", "variables": {"pad": "'
    end = b'"}}'
    return start + b"x" * (size - len(start) - len(end)) + end


async def test_a_body_of_exactly_max_body_bytes_is_answered(api: Api) -> None:
    response = await post(api, padded_request(MB))

    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_body_over_max_body_bytes_is_413_with_a_json_error(api: Api) -> None:
    response = await post(api, padded_request(MB + 1))

    assert_refused_as_too_large(response.status_code, response.content)
    assert response.headers["content-type"] == "application/json"


class Upload:
    """An ASGI request body arriving in chunks of 1 MB, counting how many the app read."""

    def __init__(self, chunks: int, *, content_length: bool) -> None:
        self.chunks = chunks
        self.read = 0
        self.content_length = content_length
        self.sent: list[Message] = []

    def scope(self) -> dict[str, Any]:
        headers = [(b"host", b"testserver"), (b"content-type", b"application/json")]
        if self.content_length:
            headers.append((b"content-length", str(self.chunks * MB).encode()))
        return {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "state": {},
        }

    async def receive(self) -> Message:
        self.read += 1
        more = self.read < self.chunks
        return {"type": "http.request", "body": b"x" * MB, "more_body": more}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


async def test_a_50_mb_body_without_a_length_is_refused_after_reading_past_the_limit(
    api: Api,
) -> None:
    upload = Upload(50, content_length=False)

    await api.app(upload.scope(), upload.receive, upload.send)

    assert_refused_as_too_large(upload.status, upload.body)
    assert upload.read == 2  # 1 MB is within the limit; the second chunk passes it


async def test_a_50_mb_content_length_is_refused_before_reading_the_body(api: Api) -> None:
    upload = Upload(50, content_length=True)

    await api.app(upload.scope(), upload.receive, upload.send)

    assert_refused_as_too_large(upload.status, upload.body)
    assert upload.read == 0


async def test_a_websocket_message_over_max_body_bytes_closes_the_socket(
    api: Api, parties: Parties
) -> None:
    # given: an acknowledged socket
    async with websocket(api.app, "graphql-transport-ws", parties.client.token) as session:
        # when: a subscription of 1.2 MB, whose document the server must not parse
        query = "subscription { " + "x " * 600_000 + "}"
        await session.send({"id": "1", "type": "subscribe", "payload": {"query": query}})
        closed = await session.receive()

    # then
    assert closed is None
    assert session.close_code == 1009
