"""The tokens a process looked up, kept for a second: who a token belongs to is asked of the
database at most once a second per token and process (`app.services.accounts.authenticate`).

One cache per process, held by its `Runtime`, so that every request of the process shares it
and a test can hold its own. A token revoked on this process is forgotten at once
(`forget`); one revoked on another process is asked about again within `PRINCIPAL_TTL`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.services.accounts import Principal

PRINCIPAL_TTL = 1.0  # seconds of real time a looked-up token is trusted without asking again
MAX_PRINCIPALS = 10_000


@dataclass
class Known:
    """A live token as it was looked up: whose it is, until when, and when it was last used."""

    token_id: int
    principal: Principal
    expires_at: datetime | None
    last_used_at: datetime | None
    looked_up: float = 0.0  # on the cache's clock, set as it is put in the cache


class Principals:
    """The tokens this process looked up in the last `ttl` seconds (of `clock`), by hash."""

    def __init__(
        self,
        ttl: float = PRINCIPAL_TTL,
        clock: Callable[[], float] = time.monotonic,
        size: int = MAX_PRINCIPALS,
    ) -> None:
        self.ttl, self.clock, self.size = ttl, clock, size
        self._known: dict[str, Known] = {}
        self._digests: dict[int, str] = {}  # token id -> hash, to forget a revoked token

    def get(self, digest: str) -> Known | None:
        known = self._known.get(digest)
        if known is not None and self.clock() - known.looked_up >= self.ttl:
            self._drop(digest, known)
            return None
        return known

    def put(self, digest: str, known: Known) -> None:
        if len(self._known) >= self.size:
            self._known.clear()
            self._digests.clear()
        known.looked_up = self.clock()
        self._known[digest] = known
        self._digests[known.token_id] = digest

    def forget(self, token_id: int) -> None:
        digest = self._digests.get(token_id)
        known = self._known.get(digest) if digest is not None else None
        if digest is not None and known is not None:
            self._drop(digest, known)

    def _drop(self, digest: str, known: Known) -> None:
        del self._known[digest]
        self._digests.pop(known.token_id, None)
