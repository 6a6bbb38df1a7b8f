"""Demo data: a client, a freelancer and an admin, with contracts in varied states."""

from __future__ import annotations

from app.db import models
from app.domain.commands import (
    AcceptContract,
    CreateContract,
    DeclineContract,
    FundMilestone,
    NewMilestone,
    PayBonus,
    ReleaseMilestone,
    SubmitMilestone,
)
from app.domain.permissions import Actor
from app.graphql.ids import encode_id
from app.services import accounts, contracts
from app.services.runtime import Runtime

PASSWORD = "demo-password"
CLIENT = ("Carol Client", "client@example.com")
FREELANCER = ("Frank Freelancer", "freelancer@example.com")
ADMIN = ("Ada Admin", "admin@example.com")


def _milestones(*amounts: int) -> tuple[NewMilestone, ...]:
    names = ["Wireframes", "Design", "Build", "Launch"]
    return tuple(
        NewMilestone(title=names[i % len(names)], description="", amount=amount)
        for i, amount in enumerate(amounts)
    )


async def _contracts(runtime: Runtime, client: Actor, freelancer: Actor) -> None:
    async def offer(title: str, *amounts: int) -> tuple[int, list[int]]:
        command = CreateContract(
            freelancer_id=freelancer.user_id,
            title=title,
            description=f"Demo contract: {title.lower()}.",
            currency="USD",
            milestones=_milestones(*amounts),
        )
        outcome = await contracts.create_contract(runtime, client, command)
        assert outcome.contract_id is not None
        rows = await models.Milestone.filter(contract_id=outcome.contract_id).order_by("position")
        return outcome.contract_id, [row.id for row in rows]

    async def start(cid: int, first: int) -> None:
        await contracts.accept_contract(runtime, freelancer, AcceptContract(contract_id=cid))
        await contracts.fund_milestone(runtime, client, FundMilestone(milestone_id=first))

    await offer("Logo refresh (open offer)", 250_00, 150_00)

    cid, ms = await offer("Landing page (offer, first milestone funded)", 400_00, 300_00)
    await contracts.fund_milestone(runtime, client, FundMilestone(milestone_id=ms[0]))

    cid, ms = await offer("Mobile app (active, work submitted)", 1200_00, 800_00, 500_00)
    await start(cid, ms[0])
    submission = SubmitMilestone(
        milestone_id=ms[0],
        message="Screens attached.",
        attachments=("https://example.com/screens.pdf",),
    )
    await contracts.submit_milestone(runtime, freelancer, submission)

    cid, ms = await offer("Blog migration (active, partly paid)", 600_00, 200_00)
    await start(cid, ms[0])
    await contracts.release_milestone(
        runtime, client, ReleaseMilestone(milestone_id=ms[0], amount=450_00)
    )

    cid, ms = await offer("Data cleanup (completed)", 300_00)
    await start(cid, ms[0])
    await contracts.pay_bonus(
        runtime, client, PayBonus(contract_id=cid, amount=50_00, note="Thanks!")
    )
    await contracts.release_milestone(
        runtime, client, ReleaseMilestone(milestone_id=ms[0], end_contract=True)
    )

    cid, _ = await offer("Podcast edit (declined)", 120_00)
    decline = DeclineContract(contract_id=cid, reason="Fully booked this month.")
    await contracts.decline_contract(runtime, freelancer, decline)


async def seed(runtime: Runtime) -> None:
    users = []
    fresh = not await models.User.exists(email=CLIENT[1])
    for (name, email), is_admin in ((CLIENT, False), (FREELANCER, False), (ADMIN, True)):
        user = await models.User.filter(email=email).first()
        if user is None:
            user = await accounts.create_user(
                name=name, email=email, password=PASSWORD, is_admin=is_admin
            )
        users.append(user)
    client, freelancer, admin = users
    if fresh:
        await _contracts(runtime, Actor(client.id), Actor(freelancer.id))
        print("Loaded the demo users and contracts.")
    else:
        print("The demo data is already loaded; issuing fresh tokens.")
    print(f"Every demo user's password is {PASSWORD!r}.")
    for label, user in (("client", client), ("freelancer", freelancer), ("admin", admin)):
        token = await accounts.issue_token_for(runtime, user.id, f"demo {label}")
        print(f"  {label:<10} {user.email:<24} id {encode_id('User', user.id)}")
        print(f"             Authorization: Bearer {token}")
