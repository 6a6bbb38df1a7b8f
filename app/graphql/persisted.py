"""Automatic persisted queries (Apollo APQ), for HTTP and both WebSocket subprotocols alike.

A client sends `extensions.persistedQuery = {"version": 1, "sha256Hash": "<hex>"}` without
`query`; a document the server knows by that hash runs, one it does not is answered
`PersistedQueryNotFound` (`PERSISTED_QUERY_NOT_FOUND`), and the client sends it again with its
text, which the server checks against the hash and registers. A registered document is only a
text: it is parsed, validated and held to every request limit on each run like any other.

The documents live in a `DocumentStore` (the database, shared by every process); this process
also keeps the most recent in memory, which can never be stale, since a hash names one text.
Only a document that parses within the token limit, and of at most `MAX_STORED_BYTES`, is
registered, so junk fills nothing and the store's size is bounded in bytes too; a larger one
still runs, its client sending the text each time.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol

from graphql import GraphQLError, parse

from app.graphql.errors import UNAVAILABLE_MESSAGE, ApiError, bad_request
from app.graphql.limits import MAX_TOKENS
from app.services.outage import is_unavailable

logger = logging.getLogger("app.graphql")

NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"  # the exact text Apollo's link looks for
MEMORY_SIZE = 256
MAX_STORED_BYTES = 100_000  # real documents hold a few kB (GraphiQL's introspection query: 3)
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DocumentStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...


def _sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def _requested_hash(extensions: Mapping[str, object] | None) -> str | None:
    """The hash of `extensions.persistedQuery`, None without one; a malformed one is refused."""
    persisted = (extensions or {}).get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, Mapping):
        raise bad_request("extensions.persistedQuery must be an object")
    version = persisted.get("version")
    if version != 1 or isinstance(version, bool):
        raise bad_request("Unsupported persisted query version: only version 1 is known")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise bad_request("persistedQuery.sha256Hash must be 64 lowercase hexadecimal digits")
    return sha256


def _storable(document: str) -> bool:
    if len(document.encode()) > MAX_STORED_BYTES:
        return False
    try:
        parse(document, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return False
    return True


class PersistedQueries:
    def __init__(self, store: DocumentStore) -> None:
        self.store = store
        self._recent: OrderedDict[str, str] = OrderedDict()

    async def document(
        self, query: str | None, extensions: Mapping[str, object] | None
    ) -> str | None:
        """The document a request runs: its `query`, or the one its persisted-query hash names
        (registered first when the request carries both). Raises `ApiError`:
        PERSISTED_QUERY_NOT_FOUND for an unknown hash, BAD_REQUEST for a malformed extension or
        a text whose hash is another, SERVICE_UNAVAILABLE while the store cannot be reached."""
        sha256 = _requested_hash(extensions)
        if sha256 is None:
            return query
        if query is None:
            document = await self._find(sha256)
            if document is None:
                raise ApiError(NOT_FOUND_CODE, NOT_FOUND_MESSAGE)
            return document
        if _sha256_of(query) != sha256:
            raise bad_request("persistedQuery.sha256Hash is not the SHA-256 of the query")
        if sha256 not in self._recent and _storable(query):
            await self._register(sha256, query)
        return query

    def _remember(self, sha256: str, document: str) -> None:
        self._recent[sha256] = document
        self._recent.move_to_end(sha256)
        if len(self._recent) > MEMORY_SIZE:
            self._recent.popitem(last=False)

    async def _find(self, sha256: str) -> str | None:
        document = self._recent.get(sha256)
        if document is None:
            try:
                document = await self.store.get(sha256)
            except Exception as error:
                if not is_unavailable(error):
                    raise
                raise ApiError("SERVICE_UNAVAILABLE", UNAVAILABLE_MESSAGE) from None
            if document is None:
                return None
        self._remember(sha256, document)
        return document

    async def _register(self, sha256: str, document: str) -> None:
        """Store a document; while the store cannot be reached the request still runs (its text
        is at hand) and the client registers it again the next time it is not found."""
        try:
            await self.store.put(sha256, document)
        except Exception as error:
            if not is_unavailable(error):
                raise
            logger.warning("A persisted query was not stored (%s)", type(error).__name__)
            return
        self._remember(sha256, document)
