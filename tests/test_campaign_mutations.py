"""upsertCampaign and addRecipients: what integrations write, and what they may not."""

from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import Campaign, Contact, Link, Recipient, Variant
from tests.factories import UPSERT_CAMPAIGN, event, graphql, make_campaign, post_events

UPSERT = """
mutation($input: UpsertCampaignInput!) {
  upsertCampaign(input: $input) {
    campaign {
      id externalId name subject status channel fromEmail selection sentAt cost
      project { name }
      sender { email }
      variants { name subject isControl html factors { name value } }
      links { url label position }
    }
    userErrors { field message code }
  }
}
"""
ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}
"""
STATS = """
query($externalId: String!) {
  campaign(externalId: $externalId) { stats { recipients sent notSent } }
}
"""


async def upsert(client: Any, organization: Any, **input: Any) -> dict[str, Any]:
    body = await graphql(client, organization, UPSERT, {"input": input})
    return body["data"]["upsertCampaign"]


async def count(database: Any, model: Any) -> int:
    async with database.read() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar())


async def add(client: Any, organization: Any, campaign_id: str, *emails: str, **more: Any) -> Any:
    contacts = [{"email": email} for email in emails]
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": contacts, **more}},
    )
    return body["data"]["addRecipients"]


@pytest.mark.fresh_database
async def test_upsert_creates_then_updates_by_external_id(client, database, organization):
    created = await upsert(
        client,
        organization,
        externalId="spring",
        name="Spring sale",
        subject="Up to 50% off",
        status="SCHEDULED",
        channel="EMAIL",
        projectName="Sales",
        senderEmail="Sue@Example.com",
        fromEmail="news@example.com",
        selection="country = NL",
        sentAt="2026-11-20T09:00:00+01:00",
        cost="250.50",
        variants=[
            {"name": "A", "subject": "Sale!", "factors": [{"name": "subject", "value": "short"}]},
            {"name": "B", "subject": "Our spring sale", "html": "<p>Hi {{name}}</p>"},
        ],
        links=[
            {"url": "https://example.com/sale", "label": "Sale"},
            {"url": "https://example.com/"},
        ],
    )
    assert created["userErrors"] == []
    campaign = created["campaign"]
    assert {key: campaign[key] for key in campaign if key not in ("id", "variants", "links")} == {
        "externalId": "spring",
        "name": "Spring sale",
        "subject": "Up to 50% off",
        "status": "SCHEDULED",
        "channel": "EMAIL",
        "fromEmail": "news@example.com",
        "selection": "country = NL",
        "sentAt": "2026-11-20T08:00:00+00:00",
        "cost": "250.50",
        "project": {"name": "Sales"},
        "sender": {"email": "sue@example.com"},
    }
    # With no control named, the first variant is the control.
    assert campaign["variants"] == [
        {
            "name": "A",
            "subject": "Sale!",
            "isControl": True,
            "html": None,
            "factors": [{"name": "subject", "value": "short"}],
        },
        {
            "name": "B",
            "subject": "Our spring sale",
            "isControl": False,
            "html": "<p>Hi {{name}}</p>",
            "factors": [],
        },
    ]
    assert campaign["links"] == [
        {"url": "https://example.com/sale", "label": "Sale", "position": 1},
        {"url": "https://example.com/", "label": None, "position": 2},
    ]

    updated = await upsert(
        client,
        organization,
        externalId="spring",
        name="Spring sale (final)",
        status="SENT",
        variants=[{"name": "B", "isControl": True}, {"name": "C"}],
        links=[{"url": "https://example.com/sale", "label": "The sale", "position": 3}],
    )
    assert updated["userErrors"] == []
    campaign = updated["campaign"]
    assert campaign["id"] == created["campaign"]["id"]
    assert (campaign["name"], campaign["status"]) == ("Spring sale (final)", "SENT")
    # Fields the update leaves out keep their values.
    assert (campaign["subject"], campaign["cost"]) == ("Up to 50% off", "250.50")
    assert [(v["name"], v["isControl"]) for v in campaign["variants"]] == [
        ("B", True),
        ("A", False),
        ("C", False),
    ]
    assert [(link["url"], link["label"], link["position"]) for link in campaign["links"]] == [
        ("https://example.com/", None, 2),
        ("https://example.com/sale", "The sale", 3),
    ]
    assert await count(database, Campaign) == 1
    assert await count(database, Variant) == 3
    assert await count(database, Link) == 2
    body = await graphql(client, organization, "query { campaigns { totalCount } }")
    assert body["data"]["campaigns"]["totalCount"] == 1


@pytest.mark.fresh_database
async def test_refused_input_names_every_field_and_changes_nothing(client, database, organization):
    await make_campaign(client, organization, "spring", name="Spring", cost="10.00")
    before = (await count(database, Campaign), await count(database, Variant))
    refused = await upsert(
        client,
        organization,
        externalId="spring",
        name="   ",
        senderEmail="not an email",
        cost="-5.00",
        variants=[{"name": "A"}, {"name": "A"}, {"name": "B", "isControl": True}],
        links=[{"url": "ftp://example.com/file"}, {"url": "example.com/no-scheme"}],
    )
    assert refused["campaign"] is None
    assert sorted((e["field"], e["code"]) for e in refused["userErrors"]) == sorted(
        [
            (["input", "name"], "REQUIRED"),
            (["input", "senderEmail"], "INVALID"),
            (["input", "cost"], "INVALID"),
            (["input", "variants", "1", "name"], "DUPLICATE"),
            (["input", "links", "0", "url"], "INVALID"),
            (["input", "links", "1", "url"], "INVALID"),
        ]
    )
    assert all(error["message"] for error in refused["userErrors"])
    assert (await count(database, Campaign), await count(database, Variant)) == before
    body = await graphql(
        client,
        organization,
        'query { campaign(externalId: "spring") { name cost variants { name } } }',
    )
    assert body["data"]["campaign"] == {"name": "Spring", "cost": "10.00", "variants": []}

    # A refused create creates nothing.
    refused = await upsert(client, organization, externalId="", name="No id", cost="1.005")
    assert sorted((e["field"], e["code"]) for e in refused["userErrors"]) == [
        (["input", "cost"], "INVALID"),
        (["input", "externalId"], "REQUIRED"),
    ]
    assert await count(database, Campaign) == 1


@pytest.mark.fresh_database
async def test_add_recipients_counts_added_and_skipped(client, database, organization):
    campaign_id = await make_campaign(
        client, organization, "spring", variants=[{"name": "A"}, {"name": "B"}]
    )
    first = await add(
        client, organization, campaign_id, "ann@example.com", "bob@example.com", "cat@example.com"
    )
    assert first == {"added": 3, "skipped": 0, "userErrors": []}
    # Two already there, one new, one named twice in the call.
    second = await add(
        client,
        organization,
        campaign_id,
        "ann@example.com",
        "BOB@example.com",
        "dan@example.com",
        "dan@example.com",
        variantName="B",
    )
    assert second == {"added": 1, "skipped": 3, "userErrors": []}
    body = await graphql(client, organization, STATS, {"externalId": "spring"})
    assert body["data"]["campaign"]["stats"] == {"recipients": 4, "sent": 0, "notSent": 0}
    body = await graphql(
        client,
        organization,
        'query { campaign(externalId: "spring") { variants { name stats { recipients } } } }',
    )
    assert body["data"]["campaign"]["variants"] == [
        {"name": "A", "stats": {"recipients": 0}},
        {"name": "B", "stats": {"recipients": 1}},  # dan
    ]
    assert await count(database, Contact) == 4


@pytest.mark.fresh_database
async def test_add_recipients_refuses_bad_input_and_changes_nothing(client, database, organization):
    campaign_id = await make_campaign(client, organization, "spring", variants=[{"name": "A"}])
    refused = await add(client, organization, campaign_id, "ann@example.com", "not-an-email")
    assert refused["added"] == 0
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "contacts", "1", "email"], "INVALID")
    ]
    refused = await add(client, organization, campaign_id, "ann@example.com", variantName="Z")
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "variantName"], "NOT_FOUND")
    ]
    refused = await add(client, organization, "not-a-global-id", "ann@example.com")
    assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
        (["input", "campaignId"], "NOT_FOUND")
    ]
    assert await count(database, Recipient) == 0
    assert await count(database, Contact) == 0


async def test_suppressed_contacts_are_recorded_not_sent_with_the_reason(
    client, database, organization
):
    await make_campaign(client, organization, "first")
    events = [
        event("SENT", "hard@example.com", "first", id="1"),
        event("BOUNCED", "hard@example.com", "first", 1, id="2", bounce={"type": "HARD"}),
        event("SENT", "soft@example.com", "first", id="3"),
        event("BOUNCED", "soft@example.com", "first", 1, id="4", bounce={"type": "SOFT"}),
        event("SENT", "complainer@example.com", "first", id="5"),
        event("COMPLAINED", "complainer@example.com", "first", 5, id="6"),
        event("SENT", "leaver@example.com", "first", id="7"),
        event("UNSUBSCRIBED", "leaver@example.com", "first", 5, id="8"),
    ]
    response = await post_events(client, organization, events)
    assert response.json()["accepted"] == 8

    second = await make_campaign(client, organization, "second")
    emails = [
        "hard@example.com",
        "soft@example.com",
        "complainer@example.com",
        "leaver@example.com",
        "new@example.com",
    ]
    result = await add(client, organization, second, *emails)
    assert result == {"added": 5, "skipped": 0, "userErrors": []}

    body = await graphql(client, organization, STATS, {"externalId": "second"})
    # hard, complainer and leaver are not sent; soft and new wait to be sent.
    assert body["data"]["campaign"]["stats"] == {"recipients": 5, "sent": 0, "notSent": 3}
    async with database.read() as connection:
        rows = await connection.execute(
            select(Contact.email, Recipient.status, Recipient.skip_reason)
            .join(Contact, Contact.id == Recipient.contact_id)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .where(Campaign.external_id == "second")
        )
        found = {row.email: (row.status, row.skip_reason) for row in rows}
    assert found == {
        "hard@example.com": ("NOT_SENT", "PREVIOUSLY_BOUNCED"),
        "soft@example.com": ("QUEUED", None),
        "complainer@example.com": ("NOT_SENT", "COMPLAINED"),
        "leaver@example.com": ("NOT_SENT", "UNSUBSCRIBED"),
        "new@example.com": ("QUEUED", None),
    }
    # Adding them again changes nothing.
    result = await add(client, organization, second, *emails)
    assert result == {"added": 0, "skipped": 5, "userErrors": []}
    body = await graphql(client, organization, STATS, {"externalId": "second"})
    assert body["data"]["campaign"]["stats"] == {"recipients": 5, "sent": 0, "notSent": 3}


async def test_make_campaign_uses_the_upsert(client, organization):
    # The factory other tests rely on goes through the same mutation.
    campaign_id = await make_campaign(client, organization, "spring")
    body = await graphql(
        client,
        organization,
        UPSERT_CAMPAIGN,
        {"input": {"externalId": "spring", "name": "Renamed"}},
    )
    assert body["data"]["upsertCampaign"]["campaign"]["id"] == campaign_id


async def test_an_external_id_of_another_contact_is_refused_and_nothing_changes(
    client, organization
):
    from tests.factories import graphql, make_campaign

    campaign_id = await make_campaign(client, organization, "fair")
    add = """mutation($input: AddRecipientsInput!) {
      addRecipients(input: $input) { added skipped userErrors { field code } } }"""
    first = {
        "campaignId": campaign_id,
        "contacts": [{"email": "ann@example.com", "externalId": "c-1"}],
    }
    body = await graphql(client, organization, add, {"input": first})
    assert body["data"]["addRecipients"]["added"] == 1
    clash = {"campaignId": campaign_id, "contacts": [
        {"email": "zoe@example.com"},
        {"email": "bob@example.com", "externalId": "c-1"},
    ]}  # fmt: skip
    body = await graphql(client, organization, add, {"input": clash})
    payload = body["data"]["addRecipients"]
    assert payload["added"] == 0
    assert payload["userErrors"] == [
        {"field": ["input", "contacts", "1", "externalId"], "code": "DUPLICATE"}
    ]
    twice = {"campaignId": campaign_id, "contacts": [
        {"email": "eve@example.com", "externalId": "c-9"},
        {"email": "max@example.com", "externalId": "c-9"},
    ]}  # fmt: skip
    body = await graphql(client, organization, add, {"input": twice})
    assert body["data"]["addRecipients"]["userErrors"][0]["code"] == "DUPLICATE"
    stats = await graphql(
        client, organization, "{ campaigns { edges { node { stats { recipients } } } } }"
    )
    assert stats["data"]["campaigns"]["edges"][0]["node"]["stats"]["recipients"] == 1
