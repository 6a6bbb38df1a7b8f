"""One attempt at delivering a webhook message: a POST, judged by its HTTP status.

The name is resolved and checked (`addresses`) right before the request, which goes to the
checked address with the URL's host in `Host` and in TLS (SNI and the certificate check), so
DNS cannot steer it elsewhere in between. Redirects are not followed: a 3xx is a failed attempt
like any status outside 2xx. The whole attempt, resolution included, has `TIMEOUT` seconds, so
a slow receiver costs its own delivery that long and no more. Proxies from the environment are
ignored (they would connect to a name we did not check).
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from app.notifications.addresses import Resolver, UnsafeUrl, resolve_target, system_resolve

TIMEOUT = 10.0  # seconds
EXCERPT_BYTES = 1024  # of the response body kept with the delivery
USER_AGENT = "milestone-escrow-webhooks/1"


@dataclass(frozen=True)
class Attempt:
    """`status_code` is None when no HTTP answer came (refused URL, network error, timeout);
    `excerpt` is then why."""

    status_code: int | None
    duration_ms: int
    excerpt: str

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def webhook_client(trust: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """One client for all deliveries; `trust` replaces the certificate authorities it trusts
    (certifi's bundle)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        verify=trust or True,
        timeout=httpx.Timeout(TIMEOUT),
        headers={"user-agent": USER_AGENT},
    )


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    allow_loopback: bool,
    resolve: Resolver,
) -> tuple[int, str]:
    target = await resolve_target(url, allow_loopback=allow_loopback, resolve=resolve)
    original = httpx.URL(url)
    extensions = {"sni_hostname": target.host} if original.scheme == "https" else {}
    request = client.build_request(
        "POST",
        original.copy_with(host=target.addresses[0]),
        content=body,
        headers={**headers, "host": original.netloc.decode("ascii")},
        extensions=extensions,
    )
    response = await client.send(request, stream=True)
    try:
        kept = b""
        async for chunk in response.aiter_bytes():
            kept += chunk
            if len(kept) >= EXCERPT_BYTES:
                break
    finally:
        await response.aclose()
    return response.status_code, kept[:EXCERPT_BYTES].decode("utf-8", errors="ignore")


async def deliver(
    client: httpx.AsyncClient,
    url: str,
    body: str,
    headers: Mapping[str, str],
    *,
    allow_loopback: bool,
    resolve: Resolver = system_resolve,
    time_limit: float = TIMEOUT,
) -> Attempt:
    """POST `body` to `url`; never raises for what the receiver or the network does."""
    started = time.perf_counter()
    status: int | None = None
    try:
        async with asyncio.timeout(time_limit):
            status, excerpt = await _post(
                client, url, body.encode(), headers, allow_loopback, resolve
            )
    except UnsafeUrl as refused:
        excerpt = f"Not delivered: {refused}"
    except TimeoutError:
        excerpt = f"No answer within {time_limit:g} s"
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as error:
        excerpt = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    duration_ms = round((time.perf_counter() - started) * 1000)
    return Attempt(status, duration_ms, excerpt)
