"""Manual responses: an admin records, corrects and deletes responses by hand.

History and audit fields are read with SQL on the responses table; statistics, status and the
latest response through GraphQL, as the dashboard reads them.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from app.enums import Role
from app.ids import global_id, parse_pk
from app.models import (
    CampaignStats,
    Contact,
    EngagementStats,
    LinkClickerStats,
    Recipient,
    Response,
    TimelineBucket,
    User,
)
from app.reconcile import reconcile
from tests.factories import (
    BASE_TIME,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

ERRORS = "userErrors { field message code }"
RESPONSE = "id type occurredAt source note amount recordedBy variant { name } link { url }"
RECIPIENT = "id status opens clicks sentAt deliveredAt latestResponse { id type occurredAt }"

RECORD = f"""
mutation($input: RecordResponseInput!) {{
  recordResponse(input: $input) {{ response {{ {RESPONSE} }} recipient {{ {RECIPIENT} }} {ERRORS} }}
}}"""
UPDATE = f"""
mutation($input: UpdateResponseStatusInput!) {{
  updateResponseStatus(input: $input) {{
    response {{ {RESPONSE} }} recipient {{ {RECIPIENT} }} {ERRORS}
  }}
}}"""
DELETE = f"""
mutation($input: DeleteResponsesInput!) {{
  deleteResponses(input: $input) {{ deletedCount recipient {{ {RECIPIENT} }} {ERRORS} }}
}}"""
STATS_FIELDS = (
    "recipients sent notSent delivered bounced opened opens clicked clicks complained "
    "unsubscribed responded leads opportunities purchases revenue"
)
CAMPAIGN = f"""
query($id: ID!) {{
  node(id: $id) {{
    ... on Campaign {{
      stats {{ {STATS_FIELDS} }}
      funnel {{ notReceived received opened clicked optedOut }}
      links {{ url clicks clicked }}
    }}
  }}
}}"""
NODE = f"query($id: ID!) {{ node(id: $id) {{ ... on Recipient {{ {RECIPIENT} }} }} }}"


def at(minutes: float) -> str:
    return (BASE_TIME + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def record(client, organization, role: Role = Role.ADMIN, **input: Any) -> dict[str, Any]:
    body = await graphql(client, organization, RECORD, {"input": input}, role=role)
    return body["data"]["recordResponse"]


async def update_status(client, organization, **input: Any) -> dict[str, Any]:
    body = await graphql(client, organization, UPDATE, {"input": input})
    return body["data"]["updateResponseStatus"]


async def delete(client, organization, **input: Any) -> dict[str, Any]:
    body = await graphql(client, organization, DELETE, {"input": input})
    return body["data"]["deleteResponses"]


async def campaign_view(client, organization, campaign_id: str) -> dict[str, Any]:
    body = await graphql(client, organization, CAMPAIGN, {"id": campaign_id})
    return body["data"]["node"]


async def contact_id(database, organization, email: str) -> str:
    async with database.read() as connection:
        pk = (
            await connection.execute(
                select(Contact.id).where(
                    Contact.organization_id == organization.id, Contact.email == email
                )
            )
        ).scalar_one()
    return str(global_id("Contact", pk))


async def recipient_id(database, campaign_id: str, email: str) -> str:
    async with database.read() as connection:
        pk = (
            await connection.execute(
                select(Recipient.id)
                .join(Contact, Contact.id == Recipient.contact_id)
                .where(
                    Recipient.campaign_id == parse_pk(campaign_id, "Campaign"),
                    Contact.email == email,
                )
            )
        ).scalar_one()
    return str(global_id("Recipient", pk))


async def history(database, recipient: str) -> list[Any]:
    """Every stored response of a recipient, deleted ones too, newest first."""
    async with database.read() as connection:
        return list(
            await connection.execute(
                select(Response)
                .where(Response.recipient_id == parse_pk(recipient, "Recipient"))
                .order_by(Response.occurred_at.desc(), Response.id.desc())
            )
        )


async def table_sums(database, campaign_id: str) -> dict[str, int]:
    """Sums of the timeline, engagement and link-clicker aggregate rows of a campaign."""
    pk = parse_pk(campaign_id, "Campaign")
    async with database.read() as connection:
        timeline = (
            await connection.execute(
                select(
                    func.coalesce(func.sum(TimelineBucket.sent), 0),
                    func.coalesce(func.sum(TimelineBucket.delivered), 0),
                    func.coalesce(func.sum(TimelineBucket.opens), 0),
                    func.coalesce(func.sum(TimelineBucket.clicks), 0),
                    func.coalesce(func.sum(TimelineBucket.unsubscribed), 0),
                ).where(TimelineBucket.campaign_id == pk)
            )
        ).one()
        engagement = (
            await connection.execute(
                select(
                    func.coalesce(func.sum(EngagementStats.opens), 0),
                    func.coalesce(func.sum(EngagementStats.clicks), 0),
                ).where(
                    EngagementStats.campaign_id == pk, EngagementStats.dimension == "EMAIL_DOMAIN"
                )
            )
        ).one()
        clickers = (
            await connection.execute(select(func.coalesce(func.sum(LinkClickerStats.clicks), 0)))
        ).scalar_one()
    return {
        "timeline_sent": int(timeline[0]),
        "timeline_delivered": int(timeline[1]),
        "timeline_opens": int(timeline[2]),
        "timeline_clicks": int(timeline[3]),
        "timeline_unsubscribed": int(timeline[4]),
        "engagement_opens": int(engagement[0]),
        "engagement_clicks": int(engagement[1]),
        "clicker_clicks": int(clickers),
    }


async def no_drift(database) -> None:
    async with database.read() as connection:
        assert await reconcile(connection) == []


def expected_stats(histories: dict[str, list[str]], revenue: str = "0.00") -> dict[str, Any]:
    """Campaign statistics recomputed by hand rules from each recipient's live response types."""
    delivery_order = ["SENT", "DEFERRED", "DROPPED", "DELIVERED", "BOUNCED"]
    counts = dict.fromkeys(STATS_FIELDS.split(), 0)
    counts["revenue"] = revenue
    for types in histories.values():
        counts["recipients"] += 1
        engaged = {"OPENED", "CLICKED", "COMPLAINED", "UNSUBSCRIBED"} & set(types)
        # Histories here are given in time order, so the last delivery-stage type is the latest.
        stage = [t for t in types if t in delivery_order]
        delivery = "DELIVERED" if engaged else (stage[-1] if stage else None)
        counts["sent"] += delivery is not None
        counts["notSent"] += delivery is None and "NOT_SENT" in types
        counts["delivered"] += delivery == "DELIVERED"
        counts["bounced"] += delivery == "BOUNCED"
        counts["opened"] += bool({"OPENED", "CLICKED"} & set(types))
        counts["opens"] += types.count("OPENED")
        counts["clicked"] += "CLICKED" in types
        counts["clicks"] += types.count("CLICKED")
        counts["complained"] += "COMPLAINED" in types
        counts["unsubscribed"] += "UNSUBSCRIBED" in types
        counts["responded"] += "RESPONDED" in types
        counts["leads"] += "LEAD" in types
        counts["opportunities"] += "OPPORTUNITY" in types
        counts["purchases"] += "PURCHASED" in types
    return counts


@pytest.mark.fresh_database
async def test_record_for_a_campaign_that_is_not_tracked(client, organization, database):
    """A trade-show campaign: the admin types in who came by, who became a lead, who bought."""
    fair = await make_campaign(client, organization, "fair-2026", channel="EVENT")
    ann = await record(
        client, organization, campaignId=fair, email="Ann@Example.com", type="RESPONDED",
        occurredAt="2026-11-20T10:00:00+01:00", note="visited the booth",
    )  # fmt: skip
    assert ann["userErrors"] == []
    assert ann["response"]["type"] == "RESPONDED"
    assert ann["response"]["source"] == "MANUAL"
    assert ann["response"]["note"] == "visited the booth"
    assert ann["response"]["occurredAt"].startswith("2026-11-20T09:00:00")
    assert ann["response"]["recordedBy"] == "api-key:" + organization.keys[Role.ADMIN][:10]
    # A response that is not a delivery or engagement leaves the recipient QUEUED, but it is
    # the recipient's latest response.
    assert ann["recipient"]["status"] == "QUEUED"
    assert ann["recipient"]["latestResponse"]["id"] == ann["response"]["id"]

    ann_id = await contact_id(database, organization, "ann@example.com")
    lead = await record(
        client, organization, campaignId=fair, contactId=ann_id, type="LEAD", occurredAt=at(60)
    )
    assert lead["userErrors"] == []
    bob = await record(
        client, organization, campaignId=fair, email="bob@example.com", type="PURCHASED",
        occurredAt=at(90), amount="120.50",
    )  # fmt: skip
    assert bob["userErrors"] == []
    assert bob["response"]["amount"] == "120.50"

    view = await campaign_view(client, organization, fair)
    expected = expected_stats(
        {"ann": ["RESPONDED", "LEAD"], "bob": ["PURCHASED"]}, revenue="120.50"
    )
    assert view["stats"] == expected
    assert view["funnel"] == {
        "notReceived": 2, "received": 0, "opened": 0, "clicked": 0, "optedOut": 0
    }  # fmt: skip
    async with database.read() as connection:
        contacts = (
            await connection.execute(
                select(Contact.email)
                .where(Contact.organization_id == organization.id)
                .order_by(Contact.email)
            )
        ).scalars()
        assert list(contacts) == ["ann@example.com", "bob@example.com"]
    await no_drift(database)


@pytest.mark.fresh_database
async def test_record_update_delete_and_record_again(client, organization, database):
    spring = await make_campaign(
        client, organization, "spring", links=[{"url": "https://example.com/a"}]
    )
    view = await campaign_view(client, organization, spring)
    body = await graphql(
        client, organization, "query($id: ID!) { node(id: $id) { ... on Campaign { links { id } } } }",
        {"id": spring},
    )  # fmt: skip
    link = body["data"]["node"]["links"][0]["id"]
    tracked = [
        event("SENT", "ann@example.com", id="a1"),
        event("DELIVERED", "ann@example.com", minutes=1, id="a2"),
        event("OPENED", "ann@example.com", minutes=2, id="a3"),
        event("SENT", "bob@example.com", id="b1"),
        event("DELIVERED", "bob@example.com", minutes=1, id="b2"),
    ]
    assert (await post_events(client, organization, tracked)).json()["accepted"] == 5

    # Record: the phone call where ann said she clicked the link in the mail.
    clicked = await record(
        client, organization, campaignId=spring, email="ann@example.com", type="CLICKED",
        occurredAt=at(10), linkId=link, note="told us on the phone",
    )  # fmt: skip
    assert clicked["userErrors"] == []
    assert clicked["response"]["link"] == {"url": "https://example.com/a"}
    assert clicked["recipient"]["status"] == "CLICKED"
    assert clicked["recipient"]["clicks"] == 1
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats(
        {"ann": ["SENT", "DELIVERED", "OPENED", "CLICKED"], "bob": ["SENT", "DELIVERED"]}
    )
    assert view["links"] == [{"url": "https://example.com/a", "clicks": 1, "clicked": 1}]

    # Update: a new status; the earlier responses stay in the history, newest first.
    ann = clicked["recipient"]["id"]
    unsubscribed = await update_status(
        client, organization, recipientId=ann, type="UNSUBSCRIBED", occurredAt=at(20)
    )
    assert unsubscribed["userErrors"] == []
    assert unsubscribed["recipient"]["status"] == "UNSUBSCRIBED"
    assert unsubscribed["recipient"]["latestResponse"]["type"] == "UNSUBSCRIBED"
    stored = await history(database, ann)
    assert [row.type for row in stored] == [
        "UNSUBSCRIBED",
        "CLICKED",
        "OPENED",
        "DELIVERED",
        "SENT",
    ]
    assert [row.source for row in stored] == ["MANUAL", "MANUAL", "TRACKED", "TRACKED", "TRACKED"]

    # An update dated earlier than the latest response joins the history in its place: the
    # latest response and the status are still decided by occurredAt.
    earlier = await update_status(
        client, organization, recipientId=ann, type="OPENED", occurredAt=at(5)
    )
    assert earlier["recipient"]["status"] == "UNSUBSCRIBED"
    assert earlier["recipient"]["latestResponse"]["type"] == "UNSUBSCRIBED"
    assert earlier["recipient"]["opens"] == 2
    ann_types = ["SENT", "DELIVERED", "OPENED", "OPENED", "CLICKED", "UNSUBSCRIBED"]
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats({"ann": ann_types, "bob": ["SENT", "DELIVERED"]})
    assert view["funnel"] == {
        "notReceived": 0, "received": 1, "opened": 0, "clicked": 0, "optedOut": 1
    }  # fmt: skip

    # Delete: all of ann's responses leave every statistic; she stays a recipient.
    ann_contact = await contact_id(database, organization, "ann@example.com")
    deleted = await delete(
        client, organization, campaignId=spring, contactId=ann_contact, note="GDPR request 17"
    )
    assert deleted["userErrors"] == []
    assert deleted["deletedCount"] == 6
    assert deleted["recipient"]["status"] == "QUEUED"
    assert deleted["recipient"]["opens"] == 0
    assert deleted["recipient"]["latestResponse"] is None
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats({"ann": [], "bob": ["SENT", "DELIVERED"]})
    assert view["funnel"] == {
        "notReceived": 1, "received": 1, "opened": 0, "clicked": 0, "optedOut": 0
    }  # fmt: skip
    assert view["links"] == [{"url": "https://example.com/a", "clicks": 0, "clicked": 0}]
    # bob's SENT and DELIVERED are all that is left in the timeline; nothing in engagement.
    assert await table_sums(database, spring) == {
        "timeline_sent": 1, "timeline_delivered": 1, "timeline_opens": 0, "timeline_clicks": 0,
        "timeline_unsubscribed": 0, "engagement_opens": 0, "engagement_clicks": 0,
        "clicker_clicks": 0,
    }  # fmt: skip

    # ... but every deleted response is still in the database, with who, when and why.
    stored = await history(database, ann)
    assert len(stored) == 6
    admin_label = "api-key:" + organization.keys[Role.ADMIN][:10]
    for row in stored:
        assert row.deleted_at is not None
        assert abs(row.deleted_at - datetime.now(UTC)) < timedelta(minutes=1)
        assert row.deleted_by == admin_label
        assert row.deletion_note == "GDPR request 17"
    # A deleted response is no longer reachable by id.
    body = await graphql(
        client, organization, "query($id: ID!) { node(id: $id) { id } }",
        {"id": unsubscribed["response"]["id"]},
    )  # fmt: skip
    assert body["data"]["node"] is None
    # Deleting again finds nothing left to delete.
    again = await delete(client, organization, campaignId=spring, contactId=ann_contact)
    assert again["deletedCount"] == 0 and again["userErrors"] == []

    # Record again: only the new response counts.
    opened = await record(
        client, organization, campaignId=spring, contactId=ann_contact, type="OPENED",
        occurredAt=at(30),
    )  # fmt: skip
    assert opened["recipient"]["status"] == "OPENED"
    assert opened["recipient"]["latestResponse"]["id"] == opened["response"]["id"]
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats({"ann": ["OPENED"], "bob": ["SENT", "DELIVERED"]})
    assert view["funnel"] == {
        "notReceived": 0, "received": 1, "opened": 1, "clicked": 0, "optedOut": 0
    }  # fmt: skip
    sums = await table_sums(database, spring)
    assert (sums["timeline_opens"], sums["engagement_opens"]) == (1, 1)
    assert len(await history(database, ann)) == 7
    await no_drift(database)

    # A replayed tracked event that was deleted stays deleted: replays are no-ops.
    replay = await post_events(client, organization, tracked[:3])
    assert replay.json() == {"accepted": 0, "duplicates": 3, "unmatched": 0}
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats({"ann": ["OPENED"], "bob": ["SENT", "DELIVERED"]})


async def test_recipient_by_node_shows_the_new_state(client, organization, database):
    spring = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com", id="1")])
    ann = await recipient_id(database, spring, "ann@example.com")
    result = await update_status(
        client, organization, recipientId=ann, type="BOUNCED", occurredAt=at(3)
    )
    assert result["userErrors"] == []
    body = await graphql(client, organization, NODE, {"id": ann})
    recipient = body["data"]["node"]
    assert recipient["status"] == "BOUNCED"
    assert recipient["latestResponse"]["id"] == result["response"]["id"]
    view = await campaign_view(client, organization, spring)
    assert view["stats"] == expected_stats({"ann": ["SENT", "BOUNCED"]})


@pytest.mark.fresh_database
async def test_owner_section_and_variant_follow_manual_changes(client, organization, database):
    spring = await make_campaign(
        client, organization, "spring", variants=[{"name": "A"}, {"name": "B"}]
    )
    added = await graphql(
        client,
        organization,
        "mutation($input: AddRecipientsInput!) { addRecipients(input: $input) { added } }",
        {"input": {
            "campaignId": spring, "variantName": "B",
            "contacts": [{"email": "ann@example.com", "ownerEmail": "olga@example.com"}],
        }},
    )  # fmt: skip
    assert added["data"]["addRecipients"]["added"] == 1
    ann = await contact_id(database, organization, "ann@example.com")
    result = await record(
        client, organization, campaignId=spring, contactId=ann, type="PURCHASED",
        occurredAt=at(0), amount="40",
    )  # fmt: skip
    # The response shows the variant its recipient got.
    assert result["response"]["variant"] == {"name": "B"}

    async def owner_row() -> tuple[int, int, int]:
        async with database.read() as connection:
            owner = (
                await connection.execute(select(User.id).where(User.email == "olga@example.com"))
            ).scalar_one()
            row = (
                await connection.execute(
                    select(
                        CampaignStats.recipients,
                        CampaignStats.purchases,
                        CampaignStats.revenue_cents,
                    ).where(
                        CampaignStats.campaign_id == parse_pk(spring, "Campaign"),
                        CampaignStats.owner_id == owner,
                    )
                )
            ).one()
            return tuple(row)  # type: ignore[return-value]

    assert await owner_row() == (1, 1, 4000)
    await delete(client, organization, campaignId=spring, contactId=ann)
    assert await owner_row() == (1, 0, 0)
    body = await graphql(
        client, organization,
        "query($id: ID!) { node(id: $id) { ... on Campaign { variants { name stats { recipients purchases } } } } }",
        {"id": spring},
    )  # fmt: skip
    assert body["data"]["node"]["variants"] == [
        {"name": "A", "stats": {"recipients": 0, "purchases": 0}},
        {"name": "B", "stats": {"recipients": 1, "purchases": 0}},
    ]
    await no_drift(database)


# --- A deletion gives the contact back its place in later campaigns. -------------------------

ADD_RECIPIENTS = """
mutation($input: AddRecipientsInput!) {
  addRecipients(input: $input) { added skipped userErrors { field message code } }
}"""
RECIPIENT_STATE = "query($id: ID!) { node(id: $id) { ... on Recipient { status skipReason } } }"


async def add_to(client, organization, campaign_id: str, *emails: str) -> dict[str, Any]:
    contacts = [{"email": email} for email in emails]
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": contacts}},
    )
    return body["data"]["addRecipients"]


async def suppression(database, organization, email: str) -> tuple[str | None, datetime | None]:
    async with database.read() as connection:
        row = (
            await connection.execute(
                select(Contact.suppression_reason, Contact.suppressed_at).where(
                    Contact.organization_id == organization.id, Contact.email == email
                )
            )
        ).one()
    return row.suppression_reason, row.suppressed_at


async def recipient_state(client, organization, database, campaign_id: str, email: str) -> Any:
    recipient = await recipient_id(database, campaign_id, email)
    return (await graphql(client, organization, RECIPIENT_STATE, {"id": recipient}))["data"]["node"]


@pytest.mark.fresh_database
async def test_a_deleted_unsubscribe_no_longer_suppresses_the_contact(
    client, organization, database
):
    spring = await make_campaign(client, organization, "spring")
    autumn = await make_campaign(client, organization, "autumn")
    unsubscribed = await record(
        client, organization, campaignId=spring, email="ann@example.com", type="UNSUBSCRIBED",
        occurredAt=at(5),
    )  # fmt: skip
    assert unsubscribed["userErrors"] == []
    assert (await suppression(database, organization, "ann@example.com"))[0] == "UNSUBSCRIBED"

    ann = await contact_id(database, organization, "ann@example.com")
    deleted = await delete(client, organization, campaignId=spring, contactId=ann)
    assert deleted["deletedCount"] == 1
    assert await suppression(database, organization, "ann@example.com") == (None, None)

    # A later campaign sends to her again: an ordinary recipient, not NOT_SENT.
    added = await add_to(client, organization, autumn, "ann@example.com")
    assert (added["added"], added["skipped"], added["userErrors"]) == (1, 0, [])
    state = await recipient_state(client, organization, database, autumn, "ann@example.com")
    assert state == {"status": "QUEUED", "skipReason": None}
    assert (await campaign_view(client, organization, autumn))["stats"] == expected_stats(
        {"ann": []}
    )
    await no_drift(database)


@pytest.mark.fresh_database
async def test_a_contact_stays_suppressed_while_a_suppressing_response_is_left(
    client, organization, database
):
    spring = await make_campaign(client, organization, "spring")
    summer = await make_campaign(client, organization, "summer")
    autumn = await make_campaign(client, organization, "autumn")
    # ann: unsubscribed from spring first, then hard-bounced in summer (a tracked event).
    await record(
        client, organization, campaignId=spring, email="ann@example.com", type="UNSUBSCRIBED",
        occurredAt=at(5),
    )  # fmt: skip
    hard = {"type": "HARD", "category": "USER_NOT_FOUND"}
    bounced = await post_events(
        client, organization,
        [event("BOUNCED", "ann@example.com", campaign="summer", minutes=60, id="b1", bounce=hard)],
    )  # fmt: skip
    assert bounced.json()["accepted"] == 1
    # bob: complained about spring first, then unsubscribed from summer.
    for campaign, kind in ((spring, "COMPLAINED"), (summer, "UNSUBSCRIBED")):
        result = await record(
            client, organization, campaignId=campaign, email="bob@example.com", type=kind,
            occurredAt=at(60),
        )  # fmt: skip
        assert result["userErrors"] == []
    # The first suppressing response to arrive gives the reason.
    assert (await suppression(database, organization, "ann@example.com"))[0] == "UNSUBSCRIBED"
    bob_before = await suppression(database, organization, "bob@example.com")
    assert bob_before[0] == "COMPLAINED"

    ann = await contact_id(database, organization, "ann@example.com")
    bob = await contact_id(database, organization, "bob@example.com")
    assert (await delete(client, organization, campaignId=spring, contactId=ann))[
        "deletedCount"
    ] == 1
    assert (await delete(client, organization, campaignId=summer, contactId=bob))[
        "deletedCount"
    ] == 1

    # ann's hard bounce is left: suppressed for it, since it was recorded.
    async with database.read() as connection:
        bounce_recorded_at = (
            await connection.execute(
                select(Response.recorded_at).where(
                    Response.contact_id == parse_pk(ann, "Contact"), Response.type == "BOUNCED"
                )
            )
        ).scalar_one()
    assert await suppression(database, organization, "ann@example.com") == (
        "PREVIOUSLY_BOUNCED",
        bounce_recorded_at,
    )
    # bob's complaint is left: nothing changes for him.
    assert await suppression(database, organization, "bob@example.com") == bob_before

    added = await add_to(client, organization, autumn, "ann@example.com", "bob@example.com")
    assert (added["added"], added["userErrors"]) == (2, [])
    for email, reason in (
        ("ann@example.com", "PREVIOUSLY_BOUNCED"),
        ("bob@example.com", "COMPLAINED"),
    ):
        state = await recipient_state(client, organization, database, autumn, email)
        assert state == {"status": "NOT_SENT", "skipReason": reason}
    assert (await campaign_view(client, organization, autumn))["stats"] == expected_stats(
        {"ann": ["NOT_SENT"], "bob": ["NOT_SENT"]}
    )
    await no_drift(database)


# --- Several mutations in one document: each payload sees the writes before it. -------------

PAYLOAD_STATS = f"recipient {{ status campaign {{ stats {{ {STATS_FIELDS} }} }} }} {ERRORS}"
THREE_MUTATIONS = f"""
mutation($first: RecordResponseInput!, $second: RecordResponseInput!,
         $third: DeleteResponsesInput!) {{
  first: recordResponse(input: $first) {{ {PAYLOAD_STATS} }}
  second: recordResponse(input: $second) {{ {PAYLOAD_STATS} }}
  third: deleteResponses(input: $third) {{ deletedCount {PAYLOAD_STATS} }}
}}"""


@pytest.mark.fresh_database
async def test_each_mutation_of_a_document_sees_the_writes_before_it(
    client, organization, database
):
    spring = await make_campaign(client, organization, "spring")
    await post_events(client, organization, [event("SENT", "ann@example.com", id="a1")])
    ann = await contact_id(database, organization, "ann@example.com")
    variables = {
        "first": {"campaignId": spring, "email": "bob@example.com", "type": "OPENED",
                  "occurredAt": at(5)},
        "second": {"campaignId": spring, "email": "cy@example.com", "type": "CLICKED",
                   "occurredAt": at(6)},
        "third": {"campaignId": spring, "contactId": ann},
    }  # fmt: skip
    data = (await graphql(client, organization, THREE_MUTATIONS, variables))["data"]
    assert [data[name]["userErrors"] for name in ("first", "second", "third")] == [[], [], []]
    assert data["first"]["recipient"]["status"] == "OPENED"
    assert data["first"]["recipient"]["campaign"]["stats"] == expected_stats(
        {"ann": ["SENT"], "bob": ["OPENED"]}
    )
    assert data["second"]["recipient"]["status"] == "CLICKED"
    assert data["second"]["recipient"]["campaign"]["stats"] == expected_stats(
        {"ann": ["SENT"], "bob": ["OPENED"], "cy": ["CLICKED"]}
    )
    assert data["third"]["deletedCount"] == 1
    assert data["third"]["recipient"]["status"] == "QUEUED"
    assert data["third"]["recipient"]["campaign"]["stats"] == expected_stats(
        {"ann": [], "bob": ["OPENED"], "cy": ["CLICKED"]}
    )
    await no_drift(database)


# --- Bad input: userErrors with the field path and a stable code, and nothing changes. -------


async def snapshot(database) -> dict[str, Any]:
    """Everything a refused mutation must leave alone."""
    async with database.read() as connection:
        return {
            "responses": (
                await connection.execute(
                    select(func.count()).select_from(Response).where(Response.deleted_at.is_(None))
                )
            ).scalar_one(),
            "contacts": (
                await connection.execute(select(func.count()).select_from(Contact))
            ).scalar_one(),
            "recipients": (
                await connection.execute(select(func.count()).select_from(Recipient))
            ).scalar_one(),
            "stats": (
                await connection.execute(
                    select(
                        func.sum(CampaignStats.recipients),
                        func.sum(CampaignStats.opens),
                        func.sum(CampaignStats.purchases),
                    )
                )
            ).one(),
        }


@pytest.fixture
async def scene(client, organization, database) -> dict[str, str]:
    """Two campaigns with a link each, a recipient, and another organization's campaign."""
    spring = await make_campaign(
        client, organization, "spring", links=[{"url": "https://example.com/a"}],
        variants=[{"name": "A"}],
    )  # fmt: skip
    autumn = await make_campaign(
        client, organization, "autumn", links=[{"url": "https://example.com/b"}],
        variants=[{"name": "X"}],
    )  # fmt: skip
    await post_events(client, organization, [event("SENT", "ann@example.com", id="s1")])
    other = await make_organization(database)
    foreign = await make_campaign(client, other, "spring")
    await post_events(client, other, [event("SENT", "zed@example.com", id="z1")])
    query = "query($id: ID!) { node(id: $id) { ... on Campaign { links { id } variants { id } } } }"
    links = {}
    variants = {}
    for name, campaign in (("spring", spring), ("autumn", autumn)):
        node = (await graphql(client, organization, query, {"id": campaign}))["data"]["node"]
        links[name] = node["links"][0]["id"]
        variants[name] = node["variants"][0]["id"]
    return {
        "spring": spring,
        "foreign": foreign,
        "ann": await contact_id(database, organization, "ann@example.com"),
        "ann_recipient": await recipient_id(database, spring, "ann@example.com"),
        "zed": await contact_id(database, other, "zed@example.com"),
        "zed_recipient": await recipient_id(database, foreign, "zed@example.com"),
        "spring_link": links["spring"],
        "autumn_link": links["autumn"],
        "autumn_variant": variants["autumn"],
    }


def in_future(minutes: float) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


BAD_RECORDS = [
    ({"campaignId": str(global_id("Campaign", 999_999))}, ["input", "campaignId"], "NOT_FOUND"),
    ({"campaignId": "foreign"}, ["input", "campaignId"], "NOT_FOUND"),
    ({"campaignId": "not-an-id"}, ["input", "campaignId"], "NOT_FOUND"),
    ({"campaignId": "ann"}, ["input", "campaignId"], "NOT_FOUND"),  # an id of another type
    ({"contactId": "zed", "email": None}, ["input", "contactId"], "NOT_FOUND"),
    ({"contactId": str(global_id("Contact", 999_999)), "email": None}, ["input", "contactId"], "NOT_FOUND"),
    ({"email": "not-an-address"}, ["input", "email"], "INVALID"),
    ({"email": None}, ["input", "contactId"], "REQUIRED"),
    ({"contactId": "ann"}, ["input", "email"], "INVALID"),  # both contactId and email
    ({"occurredAt": "2026-11-20T10:00:00"}, ["input", "occurredAt"], "INVALID"),
    ({"occurredAt": "future:60"}, ["input", "occurredAt"], "FUTURE"),
    ({"type": "PURCHASED", "amount": "-5"}, ["input", "amount"], "INVALID"),
    ({"type": "PURCHASED", "amount": "1.005"}, ["input", "amount"], "INVALID"),
    ({"type": "RESPONDED", "amount": "5"}, ["input", "amount"], "NOT_ALLOWED"),
    ({"type": "CLICKED", "linkId": "autumn_link"}, ["input", "linkId"], "INVALID"),
    ({"type": "OPENED", "linkId": "spring_link"}, ["input", "linkId"], "NOT_ALLOWED"),
    ({"variantId": "autumn_variant"}, ["input", "variantId"], "INVALID"),
    ({"note": "x" * 2001}, ["input", "note"], "TOO_LONG"),
]  # fmt: skip


@pytest.mark.parametrize(("change", "field", "code"), BAD_RECORDS)
async def test_bad_record_input_changes_nothing(
    client, organization, database, scene, change, field, code
):
    input = {
        "campaignId": scene["spring"], "email": "new@example.com", "type": "OPENED",
        "occurredAt": at(5),
    }  # fmt: skip
    for name, value in change.items():
        if isinstance(value, str) and value.startswith("future:"):
            value = in_future(float(value.split(":")[1]))
        input[name] = scene.get(value, value) if isinstance(value, str) else value
    input = {name: value for name, value in input.items() if value is not None}
    before = await snapshot(database)
    payload = await record(client, organization, **input)
    assert payload["response"] is None and payload["recipient"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    assert payload["userErrors"][0]["message"]
    assert await snapshot(database) == before


async def test_every_problem_is_reported_at_once(client, organization, database, scene):
    payload = await record(
        client, organization, campaignId="nope", email="nope", type="OPENED",
        occurredAt=in_future(60), amount="3", note="y" * 2001,
    )  # fmt: skip
    assert sorted((tuple(e["field"]), e["code"]) for e in payload["userErrors"]) == [
        (("input", "amount"), "NOT_ALLOWED"),
        (("input", "campaignId"), "NOT_FOUND"),
        (("input", "email"), "INVALID"),
        (("input", "note"), "TOO_LONG"),
        (("input", "occurredAt"), "FUTURE"),
    ]


async def test_small_clock_skew_and_longest_note_are_accepted(client, organization, scene):
    payload = await record(
        client, organization, campaignId=scene["spring"], contactId=scene["ann"],
        type="RESPONDED", occurredAt=in_future(2), note="n" * 2000,
    )  # fmt: skip
    assert payload["userErrors"] == []
    assert len(payload["response"]["note"]) == 2000


@pytest.mark.parametrize(
    ("recipient", "change", "field", "code"),
    [
        ("zed_recipient", {}, ["input", "recipientId"], "NOT_FOUND"),
        (str(global_id("Recipient", 999_999)), {}, ["input", "recipientId"], "NOT_FOUND"),
        ("spring", {}, ["input", "recipientId"], "NOT_FOUND"),
        ("ann_recipient", {"occurredAt": "2026-11-20T10:00"}, ["input", "occurredAt"], "INVALID"),
        ("ann_recipient", {"occurredAt": "future:30"}, ["input", "occurredAt"], "FUTURE"),
        ("ann_recipient", {"amount": "2"}, ["input", "amount"], "NOT_ALLOWED"),
        ("ann_recipient", {"type": "PURCHASED", "amount": "-2"}, ["input", "amount"], "INVALID"),
        ("ann_recipient", {"note": "z" * 2001}, ["input", "note"], "TOO_LONG"),
    ],
)
async def test_bad_update_input_changes_nothing(
    client, organization, database, scene, recipient, change, field, code
):
    input = {"recipientId": scene.get(recipient, recipient), "type": "OPENED", "occurredAt": at(5)}
    for name, value in change.items():
        if value.startswith("future:"):
            value = in_future(float(value.split(":")[1]))
        input[name] = value
    before = await snapshot(database)
    payload = await update_status(client, organization, **input)
    assert payload["response"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [(field, code)]
    assert await snapshot(database) == before


@pytest.mark.fresh_database
@pytest.mark.parametrize(
    ("campaign", "contact", "note", "field", "code"),
    [
        ("foreign", "ann", None, ["input", "campaignId"], "NOT_FOUND"),
        ("spring", "zed", None, ["input", "contactId"], "NOT_FOUND"),
        ("foreign", "zed", None, ["input", "campaignId"], "NOT_FOUND"),
        ("spring", "not-an-id", None, ["input", "contactId"], "NOT_FOUND"),
        ("spring", "ann", "w" * 2001, ["input", "note"], "TOO_LONG"),
    ],
)
async def test_bad_delete_input_changes_nothing(
    client, organization, database, scene, campaign, contact, note, field, code
):
    before = await snapshot(database)
    payload = await delete(
        client, organization, campaignId=scene.get(campaign, campaign),
        contactId=scene.get(contact, contact), note=note,
    )  # fmt: skip
    assert payload["deletedCount"] == 0 and payload["recipient"] is None
    assert [(e["field"], e["code"]) for e in payload["userErrors"]][:1] == [(field, code)]
    assert await snapshot(database) == before
    # zed and his campaign are untouched: another organization's rows behave as if absent.
    async with database.read() as connection:
        deleted = await connection.execute(
            select(func.count()).select_from(Response).where(Response.deleted_at.is_not(None))
        )
        assert deleted.scalar_one() == 0


async def test_deleting_a_contact_that_is_not_a_recipient(client, organization, database, scene):
    await record(
        client, organization, campaignId=scene["spring"], email="bea@example.com",
        type="RESPONDED", occurredAt=at(1),
    )  # fmt: skip
    autumn = (
        await graphql(client, organization, 'query { campaign(externalId: "autumn") { id } }')
    )["data"]["campaign"]["id"]
    bea = await contact_id(database, organization, "bea@example.com")
    payload = await delete(client, organization, campaignId=autumn, contactId=bea)
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "contactId"], "NOT_FOUND")
    ]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.INTEGRATION])
async def test_only_admins_change_responses(client, organization, database, scene, role):
    mutations = [
        (RECORD, {"campaignId": scene["spring"], "email": "x@example.com", "type": "OPENED",
                  "occurredAt": at(1)}),
        (UPDATE, {"recipientId": scene["ann_recipient"], "type": "OPENED", "occurredAt": at(1)}),
        (DELETE, {"campaignId": scene["spring"], "contactId": scene["ann"]}),
    ]  # fmt: skip
    before = await snapshot(database)
    for mutation, input in mutations:
        body = await graphql(
            client, organization, mutation, {"input": input}, role=role, expect_errors=True
        )
        assert body["data"] is None
        assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
        assert "ADMIN" in body["errors"][0]["message"]
    assert await snapshot(database) == before
