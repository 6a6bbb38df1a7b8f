"""GraphiQL in a real headless Chromium, against a real server, with nothing from elsewhere.

Uses Debian's Chromium (`apt-get install chromium`), never a browser downloaded by Playwright.
Without it the test is skipped, except in CI (`CI=true`), where it fails.

GraphiQL parses the query editor's text 100 ms after each change; a run within those 100 ms
used to act on the previous parse. The tests that reproduce that change the text and run in
one JavaScript task, so no parse can come in between whatever the machine's speed.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
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

QUERY_EDITOR = ".graphiql-query-editor"
HEADERS_EDITOR = ".graphiql-editor-tool .graphiql-editor:not(.hidden)"
RESULT = ".result-window"

# Sets the query editor's text, then runs it at once: by Ctrl-Enter in the editor, with the
# cursor at `cursor` (an index into the text), or by a click on the run button.
TYPE_AND_RUN = """([selector, text, cursor, how]) => {
    const editor = document.querySelector(selector + " .CodeMirror").CodeMirror;
    editor.setValue(text);
    if (how === "ctrl-enter") {
        editor.focus();
        editor.setCursor(editor.posFromIndex(cursor));
        editor.triggerOnKeyDown({
            type: "keydown", keyCode: 13, ctrlKey: true, altKey: false, shiftKey: false,
            metaKey: false, preventDefault() {}, stopPropagation() {},
        });
    } else {
        document.querySelector("button.graphiql-execute-button").click();
    }
}"""


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


@dataclass
class Session:
    """One GraphiQL page and what it did: requests, sockets and frames sent, errors."""

    page: Page
    requests: list[Request] = field(default_factory=list)
    sockets: list[WebSocket] = field(default_factory=list)
    frames_sent: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def posts(self) -> list[dict[str, Any]]:
        """The bodies POSTed to the endpoint."""
        return [
            json.loads(r.post_data or "null")
            for r in self.requests
            if r.method == "POST" and urlsplit(r.url).path == "/graphql"
        ]

    def on_socket(self, socket: WebSocket) -> None:
        self.sockets.append(socket)
        socket.on("framesent", lambda payload: self.frames_sent.append(str(payload)))


@pytest.fixture
def graphiql(chromium: Path, browser: Browser, live_server: LiveServer) -> Iterator[Session]:
    """GraphiQL opened and rendered; on a failure, a screenshot and the server's log.

    Asked for before `live_server`, and `chromium` first: without Chromium a test is skipped
    before any server starts."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    session = Session(page)
    page.on("request", lambda request: session.requests.append(request))
    page.on("websocket", session.on_socket)
    page.on("pageerror", lambda error: session.page_errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            session.csp_violations.append(message.text)
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
        page.locator(f"{QUERY_EDITOR} .CodeMirror").wait_for(state="visible")
        yield session
    except Exception:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(live_server.log.parent / "graphiql-failure.png"))
        print(live_server.log_tail())
        raise
    finally:
        context.close()
    assert not session.page_errors, session.page_errors
    assert not session.csp_violations, session.csp_violations  # GraphiQL needs nothing else


def set_editor(page: Page, selector: str, text: str) -> None:
    """Replace the whole text of the CodeMirror 5 editor inside `selector`."""
    editor = page.locator(f"{selector} .CodeMirror").first
    editor.wait_for(state="visible")
    editor.evaluate("(element, text) => element.CodeMirror.setValue(text)", text)


def wait_until_parsed(page: Page, selector: str) -> None:
    """Wait for GraphiQL to parse the editor's text, as a user who pauses before running."""
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


def set_headers(page: Page, headers: dict[str, str]) -> None:
    page.get_by_role("button", name="Headers", exact=True).click()
    assert "Authorization" in editor_text(page, HEADERS_EDITOR)  # the default text
    set_editor(page, HEADERS_EDITOR, json.dumps(headers, indent=2))


def type_and_run(page: Page, text: str, how: str, cursor: int = 0) -> None:
    page.evaluate(TYPE_AND_RUN, [QUERY_EDITOR, text, cursor, how])


def result_when(page: Page, expected: str) -> Any:
    """The result pane's JSON, once it shows `expected`."""
    expect(page.locator(RESULT)).to_contain_text(expected, timeout=TIMEOUT_MS)
    return json.loads(editor_text(page, RESULT))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_graphiql_runs_a_query_with_the_header_editor_token(
    graphiql: Session, live_server: LiveServer
) -> None:
    page = graphiql.page
    origin = urlsplit(live_server.base_url)
    headers = bearer(live_server.client_token)
    set_headers(page, headers)
    set_editor(page, QUERY_EDITOR, "{ viewer { name } }")
    wait_until_parsed(page, QUERY_EDITOR)
    page.locator("button.graphiql-execute-button").click()

    result = result_when(page, "Carol Client")
    assert result == {"data": {"viewer": {"name": "Carol Client"}}}

    # The query went by POST with the editor's token.
    posts = [
        r
        for r in graphiql.requests
        if r.method == "POST" and r.url.endswith("/graphql") and "viewer" in (r.post_data or "")
    ]
    assert any(r.headers.get("authorization") == headers["Authorization"] for r in posts)

    # Nothing left the machine: every request went to the server under test.
    assert graphiql.requests
    strays = [
        r.url
        for r in graphiql.requests
        if not (r.url.startswith(f"{live_server.base_url}/") or r.url.startswith("data:"))
    ]
    assert not strays, strays
    local_ws = (f"ws://{origin.netloc}/", f"wss://{origin.netloc}/")
    assert all(s.url.startswith(local_ws) for s in graphiql.sockets), graphiql.sockets


TWO_OPERATIONS = "query First { viewer { name } }\n\nquery Second { viewer { email } }\n"


@pytest.mark.parametrize(
    ("how", "text", "cursor", "operation", "data"),
    [
        # The default text's operation is `Viewer`: renamed, then run at once.
        ("ctrl-enter", "query Me { viewer { name } }", 0, "Me", {"name": "Carol Client"}),
        ("button", "query Me { viewer { name } }", 0, "Me", {"name": "Carol Client"}),
        # Ctrl-Enter runs the operation under the cursor.
        (
            "ctrl-enter",
            TWO_OPERATIONS,
            TWO_OPERATIONS.index("Second"),
            "Second",
            {"email": "client@example.com"},
        ),
        # The button runs the operation in the selected one's place (there was one: the first).
        ("button", TWO_OPERATIONS, 0, "First", {"name": "Carol Client"}),
    ],
    ids=["renamed-ctrl-enter", "renamed-button", "two-ctrl-enter", "two-button"],
)
def test_running_right_after_typing_runs_the_operation_in_the_editor(
    graphiql: Session,
    live_server: LiveServer,
    how: str,
    text: str,
    cursor: int,
    operation: str,
    data: dict[str, str],
) -> None:
    page = graphiql.page
    set_headers(page, bearer(live_server.client_token))
    wait_until_parsed(page, QUERY_EDITOR)  # the default text, with its operation `Viewer`

    type_and_run(page, text, how, cursor)

    assert result_when(page, "viewer") == {"data": {"viewer": data}}
    sent = graphiql.posts()[-1]
    assert (sent["query"], sent["operationName"]) == (text, operation)


def demo_contract(live_server: LiveServer) -> str:
    answer = httpx.post(
        f"{live_server.base_url}/graphql",
        json={"query": "{ contracts(first: 1) { edges { node { id } } } }"},
        headers=bearer(live_server.client_token),
        timeout=10,
    ).json()
    contract_id: str = answer["data"]["contracts"]["edges"][0]["node"]["id"]
    return contract_id


def test_a_subscription_pasted_and_run_at_once_goes_over_the_websocket(
    graphiql: Session, live_server: LiveServer
) -> None:
    page = graphiql.page
    set_headers(page, bearer(live_server.client_token))
    wait_until_parsed(page, QUERY_EDITOR)
    subscription = (
        f'subscription {{ contractEvents(contractId: "{demo_contract(live_server)}", '
        "afterSequence: 0) { sequence } }"
    )

    type_and_run(page, subscription, "button")

    # The stored events come first: the pane shows one of them.
    result = result_when(page, "sequence")
    assert result["data"]["contractEvents"]["sequence"] >= 1, result
    assert subscription not in [p["query"] for p in graphiql.posts()]
    subscribes = [json.loads(f) for f in graphiql.frames_sent if '"subscribe"' in f]
    assert [s["payload"]["query"] for s in subscribes] == [subscription]
    page.locator("button.graphiql-execute-button").click()  # stops the subscription


def test_a_subscription_refused_for_a_bad_token_shows_the_server_message(
    graphiql: Session, live_server: LiveServer
) -> None:
    page = graphiql.page
    set_headers(page, bearer("mse_not_a_token"))
    set_editor(page, QUERY_EDITOR, "subscription { milestoneUpdated { status } }")
    wait_until_parsed(page, QUERY_EDITOR)
    page.locator("button.graphiql-execute-button").click()

    result = result_when(page, "errors")
    assert result == {
        "errors": [
            {"message": "A valid bearer token is required", "extensions": {"closeCode": 4403}}
        ]
    }


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("none", "The server could not be reached (Failed to fetch)"),
        ("html", "HTTP 502 Bad Gateway: <h1>Bad Gateway</h1>"),
    ],
)
def test_a_query_without_a_graphql_answer_shows_why_without_a_stack(
    graphiql: Session, answer: str, message: str
) -> None:
    """What a proxy in front of the server may do: drop the request, or answer in HTML."""
    page = graphiql.page
    if answer == "none":
        page.route("**/graphql", lambda route: route.abort())
    else:
        page.route(
            "**/graphql",
            lambda route: route.fulfill(
                status=502, content_type="text/html", body="<h1>Bad Gateway</h1>"
            ),
        )
    set_editor(page, QUERY_EDITOR, "{ viewer { name } }")
    wait_until_parsed(page, QUERY_EDITOR)
    page.locator("button.graphiql-execute-button").click()

    assert result_when(page, "errors") == {"errors": [{"message": message}]}
