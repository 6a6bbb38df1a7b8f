"""Helpers of the end-to-end notification and webhook tests: the GraphQL documents a partner
and a user send, a webhook endpoint registered on a real server with the test's receiver
behind it, and waits that end as soon as what they wait for has happened (TIMEOUT only
bounds a failing one)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook

from tests.e2e.postgres import SHARED_SERVER, fresh_database, prepare, server_env, tokens
from tests.e2e.servers import Http, Server, running, start_server
from tests.notifications.receiver import Received, Receiver

TIMEOUT = 30.0  # a retry schedule of seconds, workers that poll each second: well within it

CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) {
    webhookEndpoint { id url eventTypes enabled }
    secret
    userErrors { code message field }
  }
}
"""
DELIVERIES = """
query($id: ID!) {
  node(id: $id) {
    ... on WebhookEndpoint {
      deliveries(first: 100) {
        edges { node { eventId eventType attempt statusCode nextRetryAt responseExcerpt } }
      }
    }
  }
}
"""
NOTIFICATIONS = """
query { viewer {
  unreadNotificationCount
  notifications(first: 20) { edges { node { type title body contract { id } readAt } } }
} }
"""
NOTIFICATION_ADDED = "subscription { notificationAdded { type title body contract { id } } }"
SUBMIT_MILESTONE = """
mutation($input: SubmitMilestoneInput!) {
  submitMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""
RELEASE_MILESTONE = """
mutation($input: ReleaseMilestoneInput!) {
  releaseMilestone(input: $input) { milestone { status } userErrors { code message } }
}
"""


@dataclass(frozen=True)
class Pair:
    """Two `serve` processes on one PostgreSQL database, and Carol's and Frank's tokens."""

    first: Server
    second: Server
    workdir: Path
    env: dict[str, str]
    client: str
    freelancer: str


@contextlib.asynccontextmanager
async def two_servers(workdir: Path, purpose: str, **settings: str) -> AsyncIterator[Pair]:
    async with fresh_database(SHARED_SERVER, purpose) as (url, _):
        env = server_env(workdir, url, **settings)
        await prepare(workdir, env)
        servers = start_server(workdir, env, "first"), start_server(workdir, env, "second")
        with running(*servers) as (first, second):
            client, freelancer = await tokens(first)
            yield Pair(first, second, workdir, env, client, freelancer)


@dataclass(frozen=True)
class Endpoint:
    id: str
    secret: str


async def register(
    api: Http, token: str, receiver: Receiver, event_types: list[str], path: str = "/hooks"
) -> Endpoint:
    """Register the receiver's URL as an endpoint of the token's owner, and let the receiver
    verify signatures with the secret the server showed (once)."""
    created = await api.mutate(
        CREATE_ENDPOINT,
        token,
        url=receiver.url(path),
        eventTypes=event_types,
        description="end-to-end receiver",
    )
    receiver.webhook = Webhook(created["secret"])
    return Endpoint(created["webhookEndpoint"]["id"], created["secret"])


async def deliveries(api: Http, token: str, endpoint: Endpoint) -> list[dict[str, Any]]:
    data = await api.ok(DELIVERIES, {"id": endpoint.id}, token)
    return [edge["node"] for edge in data["node"]["deliveries"]["edges"]]


async def until(what: str, check: Callable[[], Any], within: float = TIMEOUT) -> None:
    """Poll `check` (plain or async) until it holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        done = check()
        if asyncio.iscoroutine(done):
            done = await done
        if done:
            return
        if loop.time() > deadline:
            raise AssertionError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.1)


async def received(receiver: Receiver, count: int, within: float = TIMEOUT) -> list[Received]:
    """The first `count` requests the receiver got, once it got them."""
    await until(f"{count} webhook request(s)", lambda: len(receiver.received) >= count, within)
    return receiver.received[:count]


async def settled(
    api: Http, token: str, endpoint: Endpoint, count: int, within: float = TIMEOUT
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once there are `count` attempts and the last attempt of each
    message succeeded: from then on nothing more is due, so nothing more is sent."""
    seen: list[dict[str, Any]] = []

    async def check() -> bool:
        seen[:] = await deliveries(api, token, endpoint)
        last: dict[str, dict[str, Any]] = {}
        for delivery in seen:
            if delivery["attempt"] > last.get(delivery["eventId"], {"attempt": 0})["attempt"]:
                last[delivery["eventId"]] = delivery
        return len(seen) >= count and all(succeeded(d) for d in last.values())

    await until(f"{count} deliveries, the last of each message a success", check, within)
    return seen


def succeeded(delivery: dict[str, Any]) -> bool:
    status = delivery["statusCode"]
    return status is not None and 200 <= status < 300


def payload(request: Received) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.body)
    return body
