"""GraphiQL in a real headless Chromium, against a real server, with nothing from elsewhere.

Uses Debian's Chromium (`apt-get install chromium`), never a browser downloaded by Playwright.
Without it the test is skipped, except in CI (`CI=true`), where it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, WebSocket, expect, sync_playwright

from tests.e2e.conftest import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium; session-scoped so that a skip comes before the server starts."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the GraphiQL end-to-end test", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    # Not wider than the module: while Playwright's sync API is open, the thread looks as if an
    # asyncio loop were running in it, and the async tests that follow could not start theirs.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def set_editor(page: Page, selector: str, text: str) -> None:
    """Replace the whole text of the CodeMirror 5 editor inside `selector`."""
    editor = page.locator(f"{selector} .CodeMirror").first
    editor.wait_for(state="visible")
    editor.evaluate("(element, text) => element.CodeMirror.setValue(text)", text)


def wait_until_parsed(page: Page, selector: str) -> None:
    """Wait for GraphiQL to parse the editor's text: it does so 100 ms after a change, and until
    then it would run the previous text's operation name."""
    editor = page.locator(f"{selector} .CodeMirror").first.element_handle()
    page.wait_for_function(
        """element => {
            const cm = element.CodeMirror;
            const ast = cm.documentAST;
            return Boolean(ast && ast.loc && ast.loc.source.body === cm.getValue());
        }""",
        arg=editor,
    )


def editor_text(page: Page, selector: str) -> str:
    text: str = page.locator(f"{selector} .CodeMirror").first.evaluate(
        "element => element.CodeMirror.getValue()"
    )
    return text


def test_graphiql_runs_a_query_with_the_header_editor_token(
    chromium: Path, live_server: LiveServer, browser: Browser
) -> None:
    origin = urlsplit(live_server.base_url)
    requests: list[Request] = []
    sockets: list[WebSocket] = []
    page_errors: list[str] = []
    csp_violations: list[str] = []
    headers = {"Authorization": f"Bearer {live_server.client_token}"}

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.on("request", lambda request: requests.append(request))
    page.on("websocket", lambda socket: sockets.append(socket))
    page.on("pageerror", lambda error: page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            csp_violations.append(message.text)
            if "Content Security Policy" in message.text
            else None
        ),
    )
    try:
        response = page.goto(f"{live_server.base_url}/graphql")
        assert response is not None and response.ok
        assert "text/html" in response.headers["content-type"]
        assert "script-src 'self'" in response.headers["content-security-policy"]

        # The editor is up once GraphiQL has rendered; the schema comes by introspection.
        page.locator(".graphiql-query-editor .CodeMirror").wait_for(state="visible")

        headers_editor = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"
        page.get_by_role("button", name="Headers", exact=True).click()
        assert "Authorization" in editor_text(page, headers_editor)  # the default text
        set_editor(page, headers_editor, json.dumps(headers, indent=2))

        set_editor(page, ".graphiql-query-editor", "{ viewer { name } }")
        wait_until_parsed(page, ".graphiql-query-editor")
        page.locator("button.graphiql-execute-button").click()

        expect(page.locator(".result-window")).to_contain_text("Carol Client", timeout=TIMEOUT_MS)
        result = json.loads(editor_text(page, ".result-window"))
        assert result == {"data": {"viewer": {"name": "Carol Client"}}}
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(live_server.log.parent / "graphiql-failure.png"))
        print(live_server.log_tail())
        raise
    finally:
        context.close()

    assert not page_errors, page_errors
    assert not csp_violations, csp_violations  # the policy lets GraphiQL do all it needs

    # The query went by POST with the editor's token.
    posts = [r for r in requests if r.method == "POST" and r.url.endswith("/graphql")]
    assert any(
        "viewer" in (r.post_data or "")
        and r.headers.get("authorization") == headers["Authorization"]
        for r in posts
    ), [(r.url, r.post_data) for r in posts]

    # Nothing left the machine: every request went to the server under test.
    assert requests
    strays = [
        r.url
        for r in requests
        if not (r.url.startswith(f"{live_server.base_url}/") or r.url.startswith("data:"))
    ]
    assert not strays, strays
    local_ws = (f"ws://{origin.netloc}/", f"wss://{origin.netloc}/")
    assert all(s.url.startswith(local_ws) for s in sockets), [s.url for s in sockets]
