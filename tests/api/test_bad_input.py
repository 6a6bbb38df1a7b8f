"""Bad input gets a clear error and changes nothing (issue 7, points 6 to 8 and 11): bodies that
are not a GraphQL request, syntax errors over HTTP and WebSocket, text that no database can
store, e-mails of any length at login, and attachment URLs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from strawberry.types.base import has_object_definition

from app.graphql.schema import Mutation
from app.services import accounts
from tests.api.client import Api
from tests.api.operations import (
    LOGIN,
    create_api_token,
    raw_login,
    raw_submit_milestone,
    refusal,
    submit_milestone,
)
from tests.api.people import Parties
from tests.api.scenarios import funded, milestone_ids, reread
from tests.api.websocket import websocket


def _bad_request_body(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
    assert errors[0]["message"]


# --- 6. a body that is not a GraphQL request ----------------------------------------------------

DEEP = 100_000


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        pytest.param(b"null", "application/json", id="null"),
        pytest.param(b'"x"', "application/json", id="a string"),
        pytest.param(b"42", "application/json", id="a number"),
        pytest.param(b"true", "application/json", id="true"),
        pytest.param(b'{"query": "{ policy { \xe9 } }"}', "application/json", id="not utf-8"),
        pytest.param(
            b'{"query": "{ policy { \xe9 } }"}',
            "application/json; charset=latin-1",
            id="latin-1 declared",
        ),
        pytest.param(b"\xff\xfe\x00", "application/json", id="garbage bytes"),
        pytest.param(b"[" * DEEP + b"]" * DEEP, "application/json", id="lists nested deep"),
        pytest.param(
            b'{"query": "{ policy { maxMilestonesPerContract } }", "variables": '
            + b'{"a": ' * DEEP
            + b"1"
            + b"}" * DEEP
            + b"}",
            "application/json",
            id="objects nested deep",
        ),
    ],
)
async def test_a_body_that_is_not_a_json_object_is_a_json_bad_request(
    http: httpx.AsyncClient, content: bytes, content_type: str
) -> None:
    response = await http.post("/graphql", content=content, headers={"content-type": content_type})

    _bad_request_body(response)


async def test_variables_nested_deep_in_a_get_request_are_a_bad_request(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/graphql",
        params={
            "query": "{ policy { maxMilestonesPerContract } }",
            "variables": '{"a": ' * 3000 + "1" + "}" * 3000,
        },
    )

    _bad_request_body(response)


async def test_variables_that_are_null_in_a_get_request_are_still_accepted(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/graphql",
        params={"query": "{ policy { maxMilestonesPerContract } }", "variables": "null"},
    )

    assert response.status_code == 200
    assert response.json() == {"data": {"policy": {"maxMilestonesPerContract": 200}}}


# --- 7. syntax errors ---------------------------------------------------------------------------

SYNTAX_ERROR = "{ policy { "


async def test_a_syntax_error_over_http_is_a_bad_request(
    http: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await http.post("/graphql", json={"query": SYNTAX_ERROR})

    assert response.status_code == 200
    errors = response.json()["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
    assert errors[0]["message"].startswith("Syntax Error")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("subprotocol", "start"),
    [("graphql-transport-ws", "subscribe"), ("graphql-ws", "start")],
)
async def test_a_syntax_error_over_websocket_is_an_error_for_that_operation(
    api: Api,
    parties: Parties,
    caplog: pytest.LogCaptureFixture,
    subprotocol: str,
    start: str,
) -> None:
    async with websocket(api.app, subprotocol, parties.client.token) as ws:
        await ws.send({"type": start, "id": "bad", "payload": {"query": SYNTAX_ERROR}})
        refused = await ws.messages_for("bad")
        await ws.send({"type": start, "id": "again", "payload": {"query": SYNTAX_ERROR}})
        again = await ws.messages_for("again")

    assert [m["type"] for m in refused] == ["error"], refused
    payload = refused[0]["payload"]
    errors = payload if isinstance(payload, list) else [payload]
    assert [e["extensions"]["code"] for e in errors] == ["BAD_REQUEST"]
    assert errors[0]["message"].startswith("Syntax Error")
    assert [m["type"] for m in again] == ["error"], "the socket still serves"
    assert ws.close_code is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


# --- 8. text no database stores, e-mails of any length, and the error log ------------------------

UNSTORABLE = {"lone surrogate": "ab\ud800cd", "NUL": "ab\x00cd", "lone low surrogate": "\udfff"}


def _mutation(name: str, input_type: str) -> str:
    return (
        f"mutation($input: {input_type}!) {{ {name}(input: $input) "
        "{ userErrors { code message field } } }"
    )


@dataclass(frozen=True)
class TextCase:
    mutation: str
    input_type: str
    who: str  # "client", "freelancer" or "nobody"
    fields: Callable[[dict[str, str], str], dict[str, Any]]  # ids, bad text -> input
    path: list[str]


TEXT_CASES = {
    "contract title": TextCase(
        "createContract",
        "CreateContractInput",
        "client",
        lambda ids, bad: {
            "freelancerId": ids["freelancer"],
            "title": bad,
            "milestones": [{"title": "A", "amount": "5"}],
        },
        ["title"],
    ),
    "contract description": TextCase(
        "createContract",
        "CreateContractInput",
        "client",
        lambda ids, bad: {
            "freelancerId": ids["freelancer"],
            "title": "Website",
            "description": bad,
            "milestones": [{"title": "A", "amount": "5"}],
        },
        ["description"],
    ),
    "currency": TextCase(
        "createContract",
        "CreateContractInput",
        "client",
        lambda ids, bad: {
            "freelancerId": ids["freelancer"],
            "title": "Website",
            "currency": bad,
            "milestones": [{"title": "A", "amount": "5"}],
        },
        ["currency"],
    ),
    "second milestone's title": TextCase(
        "createContract",
        "CreateContractInput",
        "client",
        lambda ids, bad: {
            "freelancerId": ids["freelancer"],
            "title": "Website",
            "milestones": [{"title": "A", "amount": "5"}, {"title": bad, "amount": "5"}],
        },
        ["milestones", "1", "title"],
    ),
    "milestone amount": TextCase(
        "createContract",
        "CreateContractInput",
        "client",
        lambda ids, bad: {
            "freelancerId": ids["freelancer"],
            "title": "Website",
            "milestones": [{"title": "A", "amount": bad}],
        },
        ["milestones", "0", "amount"],
    ),
    "submission message": TextCase(
        "submitMilestone",
        "SubmitMilestoneInput",
        "freelancer",
        lambda ids, bad: {"milestoneId": ids["milestone"], "message": bad},
        ["message"],
    ),
    "second attachment": TextCase(
        "submitMilestone",
        "SubmitMilestoneInput",
        "freelancer",
        lambda ids, bad: {
            "milestoneId": ids["milestone"],
            "attachments": ["https://example.com/a", f"https://example.com/{bad}"],
        },
        ["attachments", "1"],
    ),
    "bonus note": TextCase(
        "payBonus",
        "PayBonusInput",
        "client",
        lambda ids, bad: {"contractId": ids["contract"], "amount": "1.00", "note": bad},
        ["note"],
    ),
    "idempotency key": TextCase(
        "fundMilestone",
        "FundMilestoneInput",
        "client",
        lambda ids, bad: {"milestoneId": ids["second"], "idempotencyKey": bad},
        ["idempotencyKey"],
    ),
    "a change's title": TextCase(
        "proposeMilestoneChanges",
        "ProposeMilestoneChangesInput",
        "client",
        lambda ids, bad: {
            "contractId": ids["contract"],
            "changes": [{"action": "UPDATE", "milestoneId": ids["second"], "title": bad}],
        },
        ["changes", "0", "title"],
    ),
    "dispute reason": TextCase(
        "openDispute",
        "OpenDisputeInput",
        "client",
        lambda ids, bad: {"milestoneId": ids["milestone"], "reason": bad},
        ["reason"],
    ),
    "token name": TextCase(
        "createApiToken",
        "CreateApiTokenInput",
        "client",
        lambda ids, bad: {"name": bad, "scopes": ["READ"]},
        ["name"],
    ),
    "registered name": TextCase(
        "register",
        "RegisterInput",
        "nobody",
        lambda ids, bad: {"name": bad, "email": "new@example.com", "password": "long enough"},
        ["name"],
    ),
    "registered password": TextCase(
        "register",
        "RegisterInput",
        "nobody",
        lambda ids, bad: {
            "name": "New",
            "email": "new@example.com",
            "password": f"long {bad} enough",
        },
        ["password"],
    ),
    "login e-mail": TextCase(
        "login",
        "LoginInput",
        "nobody",
        lambda ids, bad: {"email": f"carol{bad}@example.com", "password": "long enough"},
        ["email"],
    ),
}


@pytest.mark.parametrize("text", UNSTORABLE.values(), ids=UNSTORABLE.keys())
@pytest.mark.parametrize("case", TEXT_CASES.values(), ids=TEXT_CASES.keys())
async def test_text_no_database_stores_is_invalid_input_on_its_field(
    api: Api,
    http: httpx.AsyncClient,
    parties: Parties,
    caplog: pytest.LogCaptureFixture,
    case: TextCase,
    text: str,
) -> None:
    contract = await funded(api, parties, "100.00", "50.00")
    first, second = milestone_ids(contract)
    ids = {
        "freelancer": parties.freelancer.id,
        "contract": contract["id"],
        "milestone": first,
        "second": second,
    }
    token = {"client": parties.client.token, "freelancer": parties.freelancer.token}
    before = await reread(api, parties, contract)

    body = {
        "query": _mutation(case.mutation, case.input_type),
        "variables": {"input": case.fields(ids, text)},
    }
    headers = {"content-type": "application/json"}
    if case.who in token:
        headers["authorization"] = f"Bearer {token[case.who]}"

    response = await http.post(
        "/graphql",
        content=json.dumps(body).encode(),  # ASCII: \ud800 and \u0000 travel as escapes
        headers=headers,
    )

    assert response.status_code == 200
    assert "errors" not in response.json(), response.text
    errors = response.json()["data"][case.mutation]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", case.path)]
    assert text not in errors[0]["message"]
    assert await reread(api, parties, contract) == before
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.mark.parametrize(
    ("token", "code"),
    [(None, "UNAUTHENTICATED"), ("mse_not-a-token", "UNAUTHENTICATED"), ("read", "FORBIDDEN")],
)
async def test_credentials_are_answered_before_text_no_database_stores(
    api: Api, http: httpx.AsyncClient, parties: Parties, token: str | None, code: str
) -> None:
    # given a mutation with a NUL in its input, sent without a valid WRITE token
    if token == "read":
        token = (await create_api_token(api, parties.client.token, "ro", ["READ"]))["token"]
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    body = {
        "query": _mutation("payBonus", "PayBonusInput"),
        "variables": {"input": {"contractId": "x", "amount": "1.00", "note": "a\u0000b"}},
    }
    # when
    response = await http.post("/graphql", content=json.dumps(body).encode(), headers=headers)
    # then the credentials are refused, as for any other mutation
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]


@pytest.mark.parametrize("length", [320, 321, 1000, 100_000])
async def test_login_with_an_email_of_any_length_is_invalid_credentials(
    api: Api, caplog: pytest.LogCaptureFixture, length: int
) -> None:
    email = "a" * (length - len("@example.com")) + "@example.com"

    payload = await raw_login(api, email, "long enough")

    assert refusal(payload) == [("INVALID_CREDENTIALS", None)]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_an_unexpected_error_is_logged_with_its_stack_but_no_value_whole(
    api: Api, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = "x" * 5000 + "@example.com"

    async def broken(runtime: Any, command: accounts.Login, **kwargs: Any) -> Any:
        email = command.email
        try:
            raise ValueError(f"cause: {email}")
        except ValueError as error:
            raise RuntimeError(f"Length of '{email}' {len(email)} > 320") from error

    monkeypatch.setattr(accounts, "login", broken)

    result = await api.raw(LOGIN, {"input": {"email": email, "password": "long enough"}})

    assert result.codes == ["INTERNAL"]
    assert "RuntimeError: Length of 'xxx" in caplog.text
    assert "ValueError: cause: xxx" in caplog.text
    assert "in broken" in caplog.text  # the stack is all there
    assert "x" * 200 not in caplog.text


# --- 11. attachment URLs --------------------------------------------------------------------------

REFUSED_URLS = [
    "http://<script>alert(1)</script>",
    "https://",
    "http://",
    "https:///just/a/path",
    "https://:443/x",
    "https://exa mple.com/x",
    "https://example.com/a b",
    "https://example.com/\nx",
    "https://[::1/x",
    "https://example.com:99999/x",
    "https://-example.com/x",
    "https://example..com/x",
    'https://example.com/"onmouseover="x',
    "javascript:alert(1)",
    "ftp://example.com/file",
    "//example.com/x",
    "example.com/x",
    "HTTPS//example.com",
]
ACCEPTED_URLS = [
    "https://example.com",
    "https://example.com/work/final.pdf?version=2#page=3",
    "http://files.example.co.uk:8080/a%20b.png",
    "HTTPS://Example.COM/x",
    "https://user@example.com/x",
    "https://[2001:db8::1]/x",
    "https://192.0.2.7/x",
    "https://bücher.example/x",
]


async def test_an_attachment_that_is_not_an_absolute_web_url_is_invalid_input(
    api: Api, parties: Parties
) -> None:
    contract = await funded(api, parties, "100.00")
    first = milestone_ids(contract)[0]
    before = await reread(api, parties, contract)

    for url in REFUSED_URLS:
        payload = await raw_submit_milestone(
            api, parties.freelancer.token, first, attachments=["https://example.com/ok", url]
        )

        assert refusal(payload) == [("INVALID_INPUT", ["attachments", "1"])], url
    assert await reread(api, parties, contract) == before


async def test_an_absolute_web_url_is_accepted_as_an_attachment(api: Api, parties: Parties) -> None:
    contract = await funded(api, parties, "100.00")

    payload = await submit_milestone(
        api, parties.freelancer.token, milestone_ids(contract)[0], attachments=ACCEPTED_URLS
    )

    assert payload["milestone"]["submissions"][-1]["attachments"] == ACCEPTED_URLS


def test_every_mutation_payload_can_answer_with_user_errors_alone() -> None:
    # the text check answers any mutation with its own payload type, built from userErrors
    assert has_object_definition(Mutation)
    for field in Mutation.__strawberry_definition__.fields:
        payload_type: Any = field.type
        payload = payload_type(user_errors=[])

        assert payload.user_errors == [], field.name
