"""Campaign.statsByOwner: the full statistics per record owner, as owned when added."""

from tests.factories import event, graphql, make_campaign, post_events

ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""
FIELDS = "recipients sent delivered bounced hardBounced opened clicked clicks purchases revenue openRate clickRate cost"
BY_OWNER = f"""
query {{ campaign(externalId: "spring") {{
  stats {{ {FIELDS} }}
  statsByOwner {{ owner {{ name email }} stats {{ {FIELDS} }} }}
}} }}
"""


async def add_recipients(client, organization, campaign_id, contacts):
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": contacts}},
    )
    assert body["data"]["addRecipients"]["userErrors"] == []


async def test_sections_per_owner_sum_to_the_campaign(client, organization):
    spring = await make_campaign(client, organization, "spring", cost="100.00")
    await add_recipients(
        client,
        organization,
        spring,
        [
            {"email": "ann@example.com", "ownerEmail": "olivia@corp.example"},
            {"email": "bob@example.com", "ownerEmail": "olivia@corp.example"},
            {"email": "cat@example.com", "ownerEmail": "peter@corp.example"},
            {"email": "dan@example.com"},
        ],
    )
    events = [event("SENT", f"{name}@example.com") for name in ("ann", "bob", "cat", "dan")]
    events += [
        event("DELIVERED", "ann@example.com", minutes=1),
        event("OPENED", "ann@example.com", minutes=2),
        event("CLICKED", "ann@example.com", minutes=3),
        event(
            "BOUNCED",
            "bob@example.com",
            minutes=1,
            bounce={"type": "HARD", "category": "USER_NOT_FOUND"},
        ),
        event("DELIVERED", "cat@example.com", minutes=1),
        event("OPENED", "cat@example.com", minutes=2),
        event("PURCHASED", "cat@example.com", minutes=9, amount="10.00"),
        event("DELIVERED", "dan@example.com", minutes=1),
    ]
    response = await post_events(client, organization, events)
    assert response.json()["accepted"] == len(events)

    campaign = (await graphql(client, organization, BY_OWNER))["data"]["campaign"]
    sections = campaign["statsByOwner"]
    assert [s["owner"] for s in sections] == [
        {"name": "olivia", "email": "olivia@corp.example"},
        {"name": "peter", "email": "peter@corp.example"},
        None,
    ]
    olivia, peter, nobody = (s["stats"] for s in sections)
    # olivia: ann (delivered, opened, clicked) and bob (hard bounce)
    assert olivia == {
        "recipients": 2,
        "sent": 2,
        "delivered": 1,
        "bounced": 1,
        "hardBounced": 1,
        "opened": 1,
        "clicked": 1,
        "clicks": 1,
        "purchases": 0,
        "revenue": "0.00",
        "openRate": 0.5,
        "clickRate": 0.5,
        "cost": None,  # the cost belongs to the campaign, not to a section
    }
    assert peter == {
        "recipients": 1,
        "sent": 1,
        "delivered": 1,
        "bounced": 0,
        "hardBounced": 0,
        "opened": 1,
        "clicked": 0,
        "clicks": 0,
        "purchases": 1,
        "revenue": "10.00",
        "openRate": 1.0,
        "clickRate": 0.0,
        "cost": None,
    }
    assert nobody["recipients"] == 1 and nobody["delivered"] == 1 and nobody["opened"] == 0
    for name in ("recipients", "sent", "delivered", "bounced", "opened", "clicked", "clicks"):
        assert sum(s["stats"][name] for s in sections) == campaign["stats"][name]


async def test_owner_as_it_was_when_the_contact_became_a_recipient(client, organization):
    spring = await make_campaign(client, organization, "spring")
    summer = await make_campaign(client, organization, "summer")
    await add_recipients(
        client, organization, spring, [{"email": "ann@example.com", "ownerEmail": "olivia@x.org"}]
    )
    # ann moves to peter, then gets a later campaign; spring still counts her for olivia.
    await add_recipients(
        client, organization, summer, [{"email": "ann@example.com", "ownerEmail": "peter@x.org"}]
    )
    await post_events(client, organization, [event("SENT", "ann@example.com")])
    await post_events(client, organization, [event("SENT", "ann@example.com", campaign="summer")])
    campaign = (await graphql(client, organization, BY_OWNER))["data"]["campaign"]
    assert [(s["owner"]["name"], s["stats"]["sent"]) for s in campaign["statsByOwner"]] == [
        ("olivia", 1)
    ]
    body = await graphql(
        client,
        organization,
        'query { campaign(externalId: "summer") { statsByOwner { owner { name } stats { sent } } } }',
    )
    assert body["data"]["campaign"]["statsByOwner"] == [
        {"owner": {"name": "peter"}, "stats": {"sent": 1}}
    ]


async def test_no_recipients_no_sections(client, organization):
    await make_campaign(client, organization, "spring")
    campaign = (await graphql(client, organization, BY_OWNER))["data"]["campaign"]
    assert campaign["statsByOwner"] == []


LIST = """
query { campaigns(first: 20) { edges { node {
  name statsByOwner { owner { id name } stats { recipients sent openRate } }
} } } }
"""


async def test_statements_do_not_grow_with_campaigns(client, organization, count_statements):
    async def statements_for(number: int) -> int:
        for index in range(number):
            name = f"campaign-{number}-{index}"
            campaign_id = await make_campaign(client, organization, name)
            await add_recipients(
                client,
                organization,
                campaign_id,
                [
                    {"email": "a@example.com", "ownerEmail": f"owner-{index}@x.org"},
                    {"email": "b@example.com"},
                ],
            )
        with count_statements() as counter:
            body = await graphql(client, organization, LIST)
        for edge in body["data"]["campaigns"]["edges"]:
            sections = edge["node"]["statsByOwner"]
            assert [s["stats"]["recipients"] for s in sections] == [1, 1]
            assert sections[0]["owner"] is not None and sections[1]["owner"] is None
        return counter.count

    one = await statements_for(1)
    many = await statements_for(4)
    assert many == one
