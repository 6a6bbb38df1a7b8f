"""Which webhook URLs may be called: `https`, and only public addresses.

A receiver's URL is the partner's to choose, so it must not make the server call into its own
network: every address the host resolves to must be public (not loopback, private, shared,
link-local, where cloud metadata services live, multicast or reserved), IPv4 addresses written
as IPv6 (`::ffff:10.0.0.1`, 6to4) judged by the IPv4 address inside. The check runs when an
endpoint is registered and again before each delivery, after resolving the name, and the
delivery connects to an address so checked, so a name that later resolves elsewhere gains
nothing. `WEBHOOK_ALLOW_LOOPBACK=true` (tests, local development) admits loopback addresses,
and plain `http` for a host that resolves only to loopback. A URL with a user or password is
refused: it would show its secret wherever the URL is shown.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.domain.urls import is_web_url

Resolver = Callable[[str, int], Awaitable[list[str]]]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeUrl(ValueError):
    """A webhook URL refused; the message says why, for the partner to read."""


@dataclass(frozen=True)
class Target:
    url: str
    host: str
    addresses: tuple[str, ...]  # all checked; a delivery connects to the first


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _embedded(address: IPAddress) -> IPAddress:
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped or address.sixtofour or address
    return address


def _address(text: str) -> IPAddress:
    """The address a resolver wrote (an IPv6 one may end in `%scope`), judged by the IPv4
    address inside when it holds one."""
    return _embedded(ipaddress.ip_address(text.split("%", 1)[0]))


def _allowed(address: IPAddress, allow_loopback: bool) -> bool:
    public = address.is_global and not address.is_multicast
    return public or (allow_loopback and address.is_loopback)


def check_syntax(url: str, *, allow_loopback: bool) -> tuple[str, int]:
    """The host and port of an acceptable URL, before any name is resolved."""
    if not is_web_url(url):
        raise UnsafeUrl("Not a web address: expected https://host/path")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl("A webhook URL may not carry a user or password")
    if parts.fragment:
        raise UnsafeUrl("A webhook URL has no #fragment")
    scheme = parts.scheme.lower()
    if scheme != "https" and not allow_loopback:
        raise UnsafeUrl("A webhook URL must use https")
    host = parts.hostname or ""
    return host, parts.port or (443 if scheme == "https" else 80)


async def resolve_target(
    url: str, *, allow_loopback: bool, resolve: Resolver = system_resolve
) -> Target:
    """The URL and its checked addresses, or `UnsafeUrl`."""
    host, port = check_syntax(url, allow_loopback=allow_loopback)
    try:
        found = await resolve(host, port)
    except OSError:
        found = []
    if not found:
        raise UnsafeUrl(f"The host {host} does not resolve to an address")
    addresses = [_address(text) for text in found]
    for address, text in zip(addresses, found, strict=True):
        if not _allowed(address, allow_loopback):
            raise UnsafeUrl(f"The host {host} resolves to a non-public address ({text})")
    if urlsplit(url).scheme.lower() != "https" and not all(a.is_loopback for a in addresses):
        raise UnsafeUrl("A webhook URL must use https")
    return Target(url, host, tuple(found))
