"""GraphQL operations as module constants, and helper pairs over them.

`raw_<mutation>` returns the payload (it only asserts that there is no top-level error);
`<mutation>` also asserts that the payload has no `userErrors`. Inputs leave out the fields
given as None, so that the schema's defaults apply.
"""

from __future__ import annotations

from typing import Any

from tests.api.client import Api

Payload = dict[str, Any]

# --- fragments -------------------------------------------------------------------------------

MILESTONE_FIELDS = """
fragment MilestoneFields on Milestone {
  id position title status
  amount { amount currency }
  fundedAmount { amount currency }
  releasedAmount { amount currency }
  refundedAmount { amount currency }
  autoReleaseAt fundedAt submittedAt releasedAt
}
"""

CONTRACT_FIELDS = (
    """
fragment ContractFields on Contract {
  id title description status currency createdAt acceptedAt endedAt
  client { id } freelancer { id }
  milestones { ...MilestoneFields }
  activeMilestone { id }
  escrow {
    held { amount currency }
    available { amount currency }
    totalFunded { amount currency }
    totalReleased { amount currency }
    totalRefunded { amount currency }
  }
}
"""
    + MILESTONE_FIELDS
)

USER_ERRORS = "userErrors { code message field }"

# --- accounts --------------------------------------------------------------------------------

VIEWER = "query { viewer { id name email isAdmin } }"

POLICY = """
query {
  policy {
    minimumMilestoneAmount { amount currency }
    maxMilestonesPerContract
    autoReleaseAfterSeconds
    refundResponseSeconds
    contractInitiationFee { amount currency }
    clientProcessingFeePercent
    freelancerServiceFeePercent
  }
}
"""

REGISTER = f"""
mutation($input: RegisterInput!) {{
  register(input: $input) {{ user {{ id name email isAdmin }} token {USER_ERRORS} }}
}}
"""

LOGIN = f"""
mutation($input: LoginInput!) {{
  login(input: $input) {{ user {{ id name email }} token {USER_ERRORS} }}
}}
"""

CREATE_API_TOKEN = f"""
mutation($input: CreateApiTokenInput!) {{
  createApiToken(input: $input) {{
    token apiToken {{ id name scopes createdAt lastUsedAt }} {USER_ERRORS}
  }}
}}
"""

REVOKE_API_TOKEN = f"""
mutation($input: RevokeApiTokenInput!) {{
  revokeApiToken(input: $input) {{ apiToken {{ id name scopes }} {USER_ERRORS} }}
}}
"""

API_TOKENS = "query { apiTokens { id name scopes createdAt lastUsedAt } }"

# --- contracts and milestones ----------------------------------------------------------------

CREATE_CONTRACT = (
    f"""
mutation($input: CreateContractInput!) {{
  createContract(input: $input) {{ contract {{ ...ContractFields }} {USER_ERRORS} }}
}}
"""
    + CONTRACT_FIELDS
)

ACCEPT_CONTRACT = (
    f"""
mutation($input: AcceptContractInput!) {{
  acceptContract(input: $input) {{ contract {{ ...ContractFields }} {USER_ERRORS} }}
}}
"""
    + CONTRACT_FIELDS
)

DECLINE_CONTRACT = (
    f"""
mutation($input: DeclineContractInput!) {{
  declineContract(input: $input) {{ contract {{ ...ContractFields }} {USER_ERRORS} }}
}}
"""
    + CONTRACT_FIELDS
)

END_CONTRACT = (
    f"""
mutation($input: EndContractInput!) {{
  endContract(input: $input) {{ contract {{ ...ContractFields }} {USER_ERRORS} }}
}}
"""
    + CONTRACT_FIELDS
)

PAY_BONUS = (
    f"""
mutation($input: PayBonusInput!) {{
  payBonus(input: $input) {{ contract {{ ...ContractFields }} {USER_ERRORS} }}
}}
"""
    + CONTRACT_FIELDS
)

FUND_MILESTONE = (
    f"""
mutation($input: FundMilestoneInput!) {{
  fundMilestone(input: $input) {{
    milestone {{ ...MilestoneFields }} contract {{ ...ContractFields }} {USER_ERRORS}
  }}
}}
"""
    + CONTRACT_FIELDS
)

SUBMIT_MILESTONE = (
    f"""
mutation($input: SubmitMilestoneInput!) {{
  submitMilestone(input: $input) {{
    milestone {{
      ...MilestoneFields
      submissions {{ id message attachments requestedAmount {{ amount currency }} status }}
    }}
    contract {{ ...ContractFields }}
    {USER_ERRORS}
  }}
}}
"""
    + CONTRACT_FIELDS
)

REQUEST_REVISION = (
    f"""
mutation($input: RequestRevisionInput!) {{
  requestRevision(input: $input) {{
    milestone {{ ...MilestoneFields submissions {{ id status }} }}
    contract {{ ...ContractFields }}
    {USER_ERRORS}
  }}
}}
"""
    + CONTRACT_FIELDS
)

RELEASE_MILESTONE = (
    f"""
mutation($input: ReleaseMilestoneInput!) {{
  releaseMilestone(input: $input) {{
    milestone {{ ...MilestoneFields submissions {{ id status }} }}
    contract {{ ...ContractFields }}
    {USER_ERRORS}
  }}
}}
"""
    + CONTRACT_FIELDS
)

# --- reads -----------------------------------------------------------------------------------

CONTRACT = (
    """
query($id: ID!) {
  contract(id: $id) {
    ...ContractFields
    client { id name email }
    freelancer { id name email }
    escrow {
      entries(first: 50) {
        totalCount
        edges { node { id kind amount { amount currency } milestone { id } createdAt } }
      }
    }
    events(first: 50) {
      totalCount
      edges {
        node {
          id sequence type occurredAt message
          amount { amount currency }
          actor { id }
          milestone { id }
        }
      }
    }
  }
}
"""
    + CONTRACT_FIELDS
)

MILESTONE = (
    """
query($id: ID!) {
  milestone(id: $id) {
    ...MilestoneFields
    contract { id }
    submissions { id message attachments requestedAmount { amount currency } status createdAt }
  }
}
"""
    + MILESTONE_FIELDS
)

NODE = """
query($id: ID!) {
  node(id: $id) {
    __typename id
    ... on Contract { title }
    ... on Milestone { title }
    ... on User { name email }
    ... on Submission { message }
    ... on ContractEvent { sequence type }
    ... on LedgerEntry { kind }
  }
}
"""

CONTRACTS = """
query($first: Int, $after: String, $status: ContractStatus, $role: ContractRole) {
  contracts(first: $first, after: $after, status: $status, role: $role) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { cursor node { id title status } }
  }
}
"""

# --- helpers ---------------------------------------------------------------------------------


def _input(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


async def _payload(
    api: Api, query: str, mutation: str, token: str | None, /, **fields: Any
) -> Payload:
    result = await api.raw(query, {"input": _input(**fields)}, token)
    assert not result.errors, result.errors
    assert result.data is not None
    payload: Payload = result.data[mutation]
    return payload


def accepted(payload: Payload) -> Payload:
    """The payload of a mutation that must not be refused."""
    assert payload["userErrors"] == [], payload["userErrors"]
    return payload


def codes(payload: Payload) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


def refusal(payload: Payload) -> list[tuple[str, list[str] | None]]:
    """Each userError as (code, field)."""
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def raw_register(api: Api, name: str, email: str, password: str) -> Payload:
    return await _payload(
        api, REGISTER, "register", None, name=name, email=email, password=password
    )


async def register(api: Api, name: str, email: str, password: str) -> Payload:
    return accepted(await raw_register(api, name, email, password))


async def raw_login(api: Api, email: str, password: str) -> Payload:
    return await _payload(api, LOGIN, "login", None, email=email, password=password)


async def login(api: Api, email: str, password: str) -> Payload:
    return accepted(await raw_login(api, email, password))


async def raw_create_api_token(api: Api, token: str, name: str, scopes: list[str]) -> Payload:
    return await _payload(api, CREATE_API_TOKEN, "createApiToken", token, name=name, scopes=scopes)


async def create_api_token(api: Api, token: str, name: str, scopes: list[str]) -> Payload:
    return accepted(await raw_create_api_token(api, token, name, scopes))


async def raw_revoke_api_token(api: Api, token: str, token_id: str) -> Payload:
    return await _payload(api, REVOKE_API_TOKEN, "revokeApiToken", token, id=token_id)


async def revoke_api_token(api: Api, token: str, token_id: str) -> Payload:
    return accepted(await raw_revoke_api_token(api, token, token_id))


def milestone_input(amount: str | None = "100.00", title: str = "Work", **fields: Any) -> Payload:
    return _input(title=title, amount=amount, **fields)


async def raw_create_contract(
    api: Api,
    token: str,
    freelancer_id: str,
    milestones: list[Payload],
    *,
    title: str = "Website",
    description: str | None = None,
    currency: str | None = None,
) -> Payload:
    return await _payload(
        api,
        CREATE_CONTRACT,
        "createContract",
        token,
        freelancerId=freelancer_id,
        title=title,
        description=description,
        currency=currency,
        milestones=milestones,
    )


async def create_contract(
    api: Api,
    token: str,
    freelancer_id: str,
    milestones: list[Payload],
    *,
    title: str = "Website",
    description: str | None = None,
    currency: str | None = None,
) -> Payload:
    return accepted(
        await raw_create_contract(
            api,
            token,
            freelancer_id,
            milestones,
            title=title,
            description=description,
            currency=currency,
        )
    )


async def raw_accept_contract(api: Api, token: str | None, contract_id: str) -> Payload:
    return await _payload(api, ACCEPT_CONTRACT, "acceptContract", token, contractId=contract_id)


async def accept_contract(api: Api, token: str, contract_id: str) -> Payload:
    return accepted(await raw_accept_contract(api, token, contract_id))


async def raw_decline_contract(
    api: Api, token: str | None, contract_id: str, reason: str | None = None
) -> Payload:
    return await _payload(
        api, DECLINE_CONTRACT, "declineContract", token, contractId=contract_id, reason=reason
    )


async def decline_contract(
    api: Api, token: str, contract_id: str, reason: str | None = None
) -> Payload:
    return accepted(await raw_decline_contract(api, token, contract_id, reason))


async def raw_end_contract(
    api: Api, token: str | None, contract_id: str, reason: str | None = None
) -> Payload:
    return await _payload(
        api, END_CONTRACT, "endContract", token, contractId=contract_id, reason=reason
    )


async def end_contract(
    api: Api, token: str, contract_id: str, reason: str | None = None
) -> Payload:
    return accepted(await raw_end_contract(api, token, contract_id, reason))


async def raw_pay_bonus(
    api: Api,
    token: str | None,
    contract_id: str,
    amount: str,
    *,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> Payload:
    return await _payload(
        api,
        PAY_BONUS,
        "payBonus",
        token,
        contractId=contract_id,
        amount=amount,
        note=note,
        idempotencyKey=idempotency_key,
    )


async def pay_bonus(
    api: Api,
    token: str,
    contract_id: str,
    amount: str,
    *,
    note: str | None = None,
    idempotency_key: str | None = None,
) -> Payload:
    return accepted(
        await raw_pay_bonus(
            api, token, contract_id, amount, note=note, idempotency_key=idempotency_key
        )
    )


async def raw_fund_milestone(
    api: Api, token: str | None, milestone_id: str, *, idempotency_key: str | None = None
) -> Payload:
    return await _payload(
        api,
        FUND_MILESTONE,
        "fundMilestone",
        token,
        milestoneId=milestone_id,
        idempotencyKey=idempotency_key,
    )


async def fund_milestone(
    api: Api, token: str, milestone_id: str, *, idempotency_key: str | None = None
) -> Payload:
    return accepted(
        await raw_fund_milestone(api, token, milestone_id, idempotency_key=idempotency_key)
    )


async def raw_submit_milestone(
    api: Api,
    token: str | None,
    milestone_id: str,
    *,
    message: str | None = "Done",
    attachments: list[str] | None = None,
    requested_amount: str | None = None,
) -> Payload:
    return await _payload(
        api,
        SUBMIT_MILESTONE,
        "submitMilestone",
        token,
        milestoneId=milestone_id,
        message=message,
        attachments=attachments,
        requestedAmount=requested_amount,
    )


async def submit_milestone(
    api: Api,
    token: str,
    milestone_id: str,
    *,
    message: str | None = "Done",
    attachments: list[str] | None = None,
    requested_amount: str | None = None,
) -> Payload:
    return accepted(
        await raw_submit_milestone(
            api,
            token,
            milestone_id,
            message=message,
            attachments=attachments,
            requested_amount=requested_amount,
        )
    )


async def raw_request_revision(
    api: Api, token: str | None, milestone_id: str, message: str | None = "Please fix"
) -> Payload:
    return await _payload(
        api, REQUEST_REVISION, "requestRevision", token, milestoneId=milestone_id, message=message
    )


async def request_revision(
    api: Api, token: str, milestone_id: str, message: str | None = "Please fix"
) -> Payload:
    return accepted(await raw_request_revision(api, token, milestone_id, message))


async def raw_release_milestone(
    api: Api,
    token: str | None,
    milestone_id: str,
    *,
    amount: str | None = None,
    end_contract: bool | None = None,
    idempotency_key: str | None = None,
) -> Payload:
    return await _payload(
        api,
        RELEASE_MILESTONE,
        "releaseMilestone",
        token,
        milestoneId=milestone_id,
        amount=amount,
        endContract=end_contract,
        idempotencyKey=idempotency_key,
    )


async def release_milestone(
    api: Api,
    token: str,
    milestone_id: str,
    *,
    amount: str | None = None,
    end_contract: bool | None = None,
    idempotency_key: str | None = None,
) -> Payload:
    return accepted(
        await raw_release_milestone(
            api,
            token,
            milestone_id,
            amount=amount,
            end_contract=end_contract,
            idempotency_key=idempotency_key,
        )
    )


async def read_contract(api: Api, token: str, contract_id: str) -> Payload | None:
    contract: Payload | None = (await api.ok(CONTRACT, {"id": contract_id}, token))["contract"]
    return contract


async def read_milestone(api: Api, token: str, milestone_id: str) -> Payload | None:
    milestone: Payload | None = (await api.ok(MILESTONE, {"id": milestone_id}, token))["milestone"]
    return milestone


# --- reading the results ---------------------------------------------------------------------


def escrow(contract: Payload) -> dict[str, str]:
    """The escrow figures as plain amounts: {"held": "100.00", ...}."""
    return {
        name: money["amount"] for name, money in contract["escrow"].items() if "amount" in money
    }


def entries(contract: Payload) -> list[tuple[str, str]]:
    """The ledger as (kind, amount), oldest first."""
    return [
        (edge["node"]["kind"], edge["node"]["amount"]["amount"])
        for edge in contract["escrow"]["entries"]["edges"]
    ]


def ledger(contract: Payload) -> list[tuple[str, str]]:
    """The ledger entries as (kind, amount), sorted: the order within one step is free."""
    return sorted(entries(contract))


def ledger_of(*expected: tuple[str, str]) -> list[tuple[str, str]]:
    return sorted(expected)


def events(contract: Payload) -> list[tuple[int, str, str | None]]:
    """The events as (sequence, type, amount), oldest first."""
    return [
        (
            edge["node"]["sequence"],
            edge["node"]["type"],
            edge["node"]["amount"]["amount"] if edge["node"]["amount"] else None,
        )
        for edge in contract["events"]["edges"]
    ]


def statuses(contract: Payload) -> list[str]:
    return [milestone["status"] for milestone in contract["milestones"]]
