"""Web addresses a client may attach: absolute `http(s)` URLs with a real host.

`urllib.parse` splits a URL without judging it (`http://<script>` has the host `<script>`, a
bare `https://` has none), so the host and the characters are checked here: a host is an IP
address or dot-separated labels of letters, digits and inner hyphens (after IDNA for a
non-ASCII name); no whitespace, control character or character RFC 3986 excludes
(`<>"{}|\\^` and the backtick) appears anywhere.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

MAX_URL = 2_048
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_EXCLUDED = frozenset('<>"{}|\\^`')


def _is_host(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    try:
        name = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_LABEL.fullmatch(label) for label in name.lower().split("."))


def is_web_url(url: str) -> bool:
    if len(url) > MAX_URL or any(c.isspace() or not c.isprintable() or c in _EXCLUDED for c in url):
        return False
    try:
        parts = urlsplit(url)
        port_ok = parts.port != 0  # reading the port raises ValueError when out of range
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and port_ok and _is_host(parts.hostname or "")
