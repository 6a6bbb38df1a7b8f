"""GraphiQL, served with its own assets (no CDN), so that it works offline.

The browser assets under `static/graphiql/` are vendored by `scripts/vendor_graphiql` (pinned
versions, licenses in `static/graphiql/LICENSES`); `static/graphiql-setup.js` is ours: it
renders GraphiQL with a header editor and a fetcher that sends the editor's headers with every
HTTP request and as the `connection_init` payload of subscriptions (graphql-ws), takes the
operation to run from the text being run (GraphiQL's own parse lags the editor by 100 ms), and
shows a failure as a GraphQL response (a refused subscription: the server's errors or close
reason), never as a JavaScript stack.
"""

from __future__ import annotations

import hashlib
from html import escape
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PATH = "/static"

ENDPOINT = "/graphql"

# Loaded in this order: GraphiQL's UMD build needs the globals React and ReactDOM.
_SCRIPTS = (
    "graphiql/react.production.min.js",
    "graphiql/react-dom.production.min.js",
    "graphiql/graphiql.min.js",
    "graphiql/graphql-ws.min.js",
    "graphiql-setup.js",
)
_STYLES = ("graphiql/graphiql.min.css",)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>GraphiQL · Milestone escrow</title>
<link rel="icon" href="data:,">
{styles}
<style>
  html, body {{ height: 100%; margin: 0; overflow: hidden; }}
  #graphiql {{ height: 100vh; }}
  #graphiql > .loading {{ font: 16px system-ui, sans-serif; padding: 2rem; }}
</style>
</head>
<body>
<div id="graphiql" data-endpoint="{endpoint}"><p class="loading">Loading GraphiQL…</p></div>
<noscript>GraphiQL needs JavaScript. The API itself answers POST {endpoint}.</noscript>
{scripts}
</body>
</html>
"""


def _url(name: str) -> str:
    """The asset's URL, with a digest of its content so that an upgrade is never stale."""
    digest = hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]
    return escape(f"{STATIC_PATH}/{name}?v={digest}")


def graphiql_html() -> str:
    """The GraphiQL page; every URL in it is a path on this server."""
    return _PAGE.format(
        endpoint=escape(ENDPOINT),
        styles="\n".join(f'<link rel="stylesheet" href="{_url(name)}">' for name in _STYLES),
        scripts="\n".join(f'<script src="{_url(name)}"></script>' for name in _SCRIPTS),
    )
