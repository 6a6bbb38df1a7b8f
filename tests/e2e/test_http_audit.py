"""The GraphQL over HTTP audit that the `graphql-http` package publishes (`serverAudits`), run
by Node against a real server process: every audit must pass, with no failure and no warning.

The package is installed once with npm into `.venv/graphql-http-audit/` (a pinned version).
Node and npm are needed: without them the test is skipped, except in CI (`CI=true`), where it
fails (`.ci/run` installs them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT, LiveServer

pytestmark = pytest.mark.e2e

GRAPHQL_HTTP = "graphql-http@1.23.1"
GRAPHQL = "graphql@16.15.0"
CACHE = ROOT / ".venv" / "graphql-http-audit"
AUDIT = """
import { serverAudits } from 'graphql-http';
const results = [];
for (const audit of serverAudits({ url: process.argv[2], fetchFn: fetch })) {
  const { id, name, status, reason } = await audit.fn();
  results.push({ id, name, status, reason: reason ?? null });
}
console.log(JSON.stringify(results));
"""


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed: the graphql-http audit needs Node and npm"
        if os.environ.get("CI") == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return path


def _installed() -> Path:
    """The audit script, next to its installed package."""
    node_modules = CACHE / "node_modules"
    if not (node_modules / "graphql-http" / "package.json").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        npm = [_tool("npm"), "install", "--no-audit", "--no-fund", "--prefix", str(CACHE)]
        subprocess.run(
            [*npm, GRAPHQL_HTTP, GRAPHQL],
            check=True,
            capture_output=True,
            timeout=300,
        )
    script = CACHE / "audit.mjs"
    script.write_text(AUDIT, encoding="utf-8")
    return script


def test_the_graphql_over_http_audit_passes_without_warnings(live_server: LiveServer) -> None:
    node = _tool("node")
    script = _installed()

    done = subprocess.run(
        [node, str(script), f"{live_server.base_url}/graphql"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    counts = Counter(result["status"] for result in results)
    print(f"graphql-http {GRAPHQL_HTTP} serverAudits: {dict(counts)}")
    not_ok = [f"{r['status']}: {r['name']} ({r['reason']})" for r in results if r["status"] != "ok"]
    assert not_ok == [], "\n".join(not_ok)
    assert counts["ok"] == len(results) > 50
