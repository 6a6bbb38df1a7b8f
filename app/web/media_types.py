"""The media type of a GraphQL response, from the request's `Accept` (GraphQL over HTTP).

`application/graphql-response+json` is answered when the client prefers it to
`application/json` (by quality, then by order); `application/json` otherwise, also without an
`Accept`, for `*/*` and for media types the server cannot produce: legacy clients know only it.
"""

from __future__ import annotations

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
JSON = "application/json"
_AS_JSON = frozenset({JSON, "application/*", "*/*"})


def _quality(parameters: list[str]) -> float:
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(accept: str | None) -> str:
    best, best_quality = JSON, 0.0
    for entry in (accept or "").split(","):
        media_range, *parameters = entry.split(";")
        media_range = media_range.strip().lower()
        if media_range == GRAPHQL_RESPONSE_JSON:
            candidate = GRAPHQL_RESPONSE_JSON
        elif media_range in _AS_JSON:
            candidate = JSON
        else:
            continue
        quality = _quality(parameters)
        if quality > best_quality:
            best, best_quality = candidate, quality
    return best
