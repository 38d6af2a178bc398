"""Merge fields, given by addRecipients or by a SENT event, and each recipient's preview: its
variant's html filled with its own fields and sanitized. Expected previews are written by hand."""

from typing import Any

import httpx
from sqlalchemy import func, select

from app.database import Database
from app.ids import parse_pk
from app.message_views.preview import recipient_preview
from app.models import Campaign, Recipient, RecipientMergeFields
from tests.factories import (
    ADD_RECIPIENTS,
    Organization,
    add_recipients,
    event,
    graphql,
    make_campaign,
    make_organization,
    post_events,
)

# Variant A: both syntaxes, a default, an attribute, and what the sanitizer must take out.
HTML_A = (
    '<p title="{{FNAME}}">Hello {{ FNAME }} from *|CITY|*, {{nick|friend}}!</p>'
    '<p onclick="steal()">Offer</p><script>alert(1)</script>'
)
# Variant B: a Mailchimp tag, an unknown field, and a link made of a value.
HTML_B = '<h1>*|FNAME|*</h1><p>{{unknown}}Bye <a href="{{LINK}}">go</a></p>'

RECIPIENTS = """
query($externalId: String!) {
  campaign(externalId: $externalId) {
    recipients(first: 50) {
      edges { node { contact { email } mergeFields { name value } preview } }
    }
  }
}
"""


def fields(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


async def recipients_of(
    client: httpx.AsyncClient, organization: Organization, external_id: str = "spring"
) -> dict[str, dict[str, Any]]:
    body = await graphql(client, organization, RECIPIENTS, {"externalId": external_id})
    edges = body["data"]["campaign"]["recipients"]["edges"]
    return {edge["node"]["contact"]["email"]: edge["node"] for edge in edges}


async def spring(client: httpx.AsyncClient, organization: Organization) -> str:
    return await make_campaign(
        client,
        organization,
        "spring",
        variants=[{"name": "A", "html": HTML_A}, {"name": "B", "html": HTML_B}],
    )


async def stored_merge_fields(database: Database, organization: Organization) -> int:
    """How many recipients of the organization have merge fields stored."""
    async with database.read() as connection:
        result = await connection.execute(
            select(func.count())
            .select_from(RecipientMergeFields)
            .join(Recipient, Recipient.id == RecipientMergeFields.recipient_id)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .where(Campaign.organization_id == organization.id)
        )
        return int(result.scalar_one())


async def test_each_recipient_sees_its_own_message(client, database, organization):
    campaign_id = await spring(client, organization)
    ada = fields(("FNAME", "Ada"), ("CITY", "London"))
    bob = fields(("fname", "Bob <b>&</b> \"Q\" 'x'"), ("LINK", "javascript:alert(1)"))
    await add_recipients(
        client, organization, campaign_id, [{"email": "ada@example.com", "mergeFields": ada}], "A"
    )
    await add_recipients(
        client, organization, campaign_id, [{"email": "bob@example.com", "mergeFields": bob}], "B"
    )
    cy = fields(("FNAME", "{{CITY}}"), ("city", "Paris & Co"), ("nick", "Cy"))
    dee_link = fields(("LINK", "https://example.com/?a=1&b=2"))
    response = await post_events(
        client,
        organization,
        [
            event(
                "SENT",
                "cy@example.com",
                variant="A",
                contact={"email": "cy@example.com", "mergeFields": cy},
            ),
            event(
                "SENT",
                "dee@example.com",
                variant="B",
                contact={"email": "dee@example.com", "mergeFields": dee_link},
            ),
            event("SENT", "eve@example.com", variant="B"),
        ],
    )
    assert response.status_code == 200, response.text

    found = await recipients_of(client, organization)
    assert {email: node["mergeFields"] for email, node in found.items()} == {
        "ada@example.com": ada,
        "bob@example.com": bob,
        "cy@example.com": cy,
        "dee@example.com": dee_link,
        "eve@example.com": [],
    }
    expected = {
        # No nick: the default. The onclick and the script are gone.
        "ada@example.com": '<p title="Ada">Hello Ada from London, friend!</p><p>Offer</p>',
        # Escaped where it lands; a javascript: address made of a value is dropped.
        "bob@example.com": "<h1>Bob &lt;b&gt;&amp;&lt;/b&gt; \"Q\" 'x'</h1>"
        '<p>Bye <a rel="noopener noreferrer">go</a></p>',
        # A value that looks like a placeholder stays as it is: filled once.
        "cy@example.com": '<p title="{{CITY}}">Hello {{CITY}} from Paris &amp; Co, Cy!</p>'
        "<p>Offer</p>",
        "dee@example.com": "<h1></h1>"
        '<p>Bye <a href="https://example.com/?a=1&amp;b=2" rel="noopener noreferrer">go</a></p>',
        # No fields at all: every placeholder renders nothing, never itself.
        "eve@example.com": '<h1></h1><p>Bye <a rel="noopener noreferrer">go</a></p>',
    }
    assert {email: node["preview"] for email, node in found.items()} == expected

    # The page's domain function gives the same, in its organization only.
    campaign_pk = parse_pk(campaign_id, "Campaign")
    assert campaign_pk is not None
    async with database.read() as connection:
        ada_pk = (
            (
                await connection.execute(
                    select(Recipient.id)
                    .join(Campaign, Campaign.id == Recipient.campaign_id)
                    .where(Campaign.id == campaign_pk)
                    .order_by(Recipient.id)
                )
            )
            .scalars()
            .first()
        )
        assert ada_pk is not None
        mine = await recipient_preview(connection, organization.id, campaign_pk, ada_pk)
        other = await make_organization(database)
        theirs = await recipient_preview(connection, other.id, campaign_pk, ada_pk)
    assert (mine, theirs) == (expected["ada@example.com"], None)


async def test_a_recipient_without_a_variant_gets_the_only_one(client, database, organization):
    solo = await make_campaign(
        client, organization, "solo", variants=[{"name": "only", "html": "<p>Hi {{FNAME}}</p>"}]
    )
    two = await spring(client, organization)
    bare = await make_campaign(client, organization, "bare")
    for campaign_id in (solo, two, bare):
        contact = {"email": "ada@example.com", "mergeFields": fields(("FNAME", "Ada"))}
        await add_recipients(client, organization, campaign_id, [contact])
    previews = {
        external_id: (await recipients_of(client, organization, external_id))["ada@example.com"][
            "preview"
        ]
        for external_id in ("solo", "spring", "bare")
    }
    # Of two variants, which one it got is unknown; without any html there is nothing to show.
    assert previews == {"solo": "<p>Hi Ada</p>", "spring": None, "bare": None}


async def test_given_fields_replace_and_missing_fields_keep(client, database, organization):
    campaign_id = await spring(client, organization)
    first = {"email": "ada@example.com", "mergeFields": fields(("FNAME", "Ada"), ("CITY", "Rome"))}
    await add_recipients(client, organization, campaign_id, [first], "A")
    await add_recipients(
        client, organization, campaign_id, [{"email": "ada@example.com", "name": "Ada L."}]
    )
    assert (await recipients_of(client, organization))["ada@example.com"]["mergeFields"] == first[
        "mergeFields"
    ]
    await add_recipients(
        client,
        organization,
        campaign_id,
        [{"email": "ada@example.com", "mergeFields": fields(("FNAME", "Ada"))}],
    )
    assert (await recipients_of(client, organization))["ada@example.com"]["mergeFields"] == fields(
        ("FNAME", "Ada")
    )


async def test_a_late_older_sent_event_does_not_replace_newer_fields(
    client, database, organization
):
    await spring(client, organization)
    contact = {"email": "ada@example.com"}
    newer = event(
        "SENT",
        "ada@example.com",
        minutes=5,
        id="s2",
        variant="A",
        contact={**contact, "mergeFields": fields(("FNAME", "New"))},
    )
    older = event(
        "SENT",
        "ada@example.com",
        minutes=0,
        id="s1",
        variant="A",
        contact={**contact, "mergeFields": fields(("FNAME", "Old"))},
    )
    for batch in ([newer], [older]):
        assert (await post_events(client, organization, batch)).status_code == 200
    node = (await recipients_of(client, organization))["ada@example.com"]
    assert node["mergeFields"] == fields(("FNAME", "New"))
    assert node["preview"].startswith('<p title="New">Hello New from , friend!</p>')


async def test_fields_of_an_event_kept_aside_arrive_with_it(client, database, organization):
    """A SENT event of a campaign not known yet is kept, then applied with its fields."""
    kept = event(
        "SENT",
        "ada@example.com",
        variant="A",
        contact={
            "email": "ada@example.com",
            "mergeFields": fields(("FNAME", "Ada"), ("CITY", "Oslo")),
        },
    )
    response = await post_events(client, organization, [kept])
    assert response.json()["unmatched"] == 1
    await spring(client, organization)
    node = (await recipients_of(client, organization))["ada@example.com"]
    assert node["mergeFields"] == fields(("FNAME", "Ada"), ("CITY", "Oslo"))
    assert node["preview"] == '<p title="Ada">Hello Ada from Oslo, friend!</p><p>Offer</p>'


async def test_bad_fields_in_add_recipients_are_refused_and_change_nothing(
    client, database, organization
):
    campaign_id = await spring(client, organization)
    contacts = [
        {"email": "ada@example.com", "mergeFields": fields(("FNAME", "Ada"), ("fname", "Again"))},
        {
            "email": "bob@example.com",
            "mergeFields": fields((" ", "x"), ("first name", "Bob"), ("CITY", "v" * 5001)),
        },
        {"email": "cy@example.com", "mergeFields": fields(*((f"f{i}", "") for i in range(101)))},
    ]
    body = await graphql(
        client,
        organization,
        ADD_RECIPIENTS,
        {"input": {"campaignId": campaign_id, "contacts": contacts}},
    )
    payload = body["data"]["addRecipients"]
    assert [(error["field"], error["code"]) for error in payload["userErrors"]] == [
        (["input", "contacts", "0", "mergeFields", "1", "name"], "DUPLICATE"),
        (["input", "contacts", "1", "mergeFields", "0", "name"], "REQUIRED"),
        (["input", "contacts", "1", "mergeFields", "1", "name"], "INVALID"),
        (["input", "contacts", "1", "mergeFields", "2", "value"], "TOO_LONG"),
        (["input", "contacts", "2", "mergeFields"], "INVALID"),
    ]
    assert "'fname' is given twice" in payload["userErrors"][0]["message"]
    assert payload["added"] == 0
    assert await recipients_of(client, organization) == {}
    assert await stored_merge_fields(database, organization) == 0


async def test_bad_fields_in_events_refuse_the_batch(client, database, organization):
    await spring(client, organization)

    def sent(merge_fields: Any, type: str = "SENT") -> dict[str, Any]:
        return event(
            type,
            "ada@example.com",
            contact={"email": "ada@example.com", "mergeFields": merge_fields},
        )

    response = await post_events(
        client,
        organization,
        [
            sent(fields(("FNAME", "Ada"))),  # good, but refused with its batch
            sent(fields(("FNAME", "Ada"), ("Fname", "Ada"))),
            sent({"FNAME": "Ada"}),
            sent([{"name": "FNAME", "value": 3}]),
            sent(fields(("FNAME", "Ada")), type="OPENED"),
        ],
    )
    assert response.status_code == 400, response.text
    reasons = [(problem["index"], problem["reason"]) for problem in response.json()["problems"]]
    assert reasons == [
        (1, "contact.mergeFields[1].name: merge field 'Fname' is given twice"),
        (2, 'contact.mergeFields must be a list of {"name": ..., "value": ...} objects'),
        (3, 'contact.mergeFields[0] must be an object {"name": string, "value": string}'),
        (4, "contact.mergeFields is only for SENT events"),
    ]
    assert await recipients_of(client, organization) == {}
    assert await stored_merge_fields(database, organization) == 0


async def organization_with_recipients(
    client: httpx.AsyncClient, database: Database, count: int
) -> Organization:
    """A campaign of two variants and `count` recipients, each with fields of its own, half
    given by addRecipients and half by SENT events."""
    organization = await make_organization(database)
    campaign_id = await spring(client, organization)
    given = [
        {"email": f"p{n}@example.com", "mergeFields": fields(("FNAME", f"P{n}"), ("CITY", f"C{n}"))}
        for n in range(count // 2)
    ]
    await add_recipients(client, organization, campaign_id, given, "A")
    sent = [
        event(
            "SENT",
            f"q{n}@example.com",
            variant="B",
            contact={"email": f"q{n}@example.com", "mergeFields": fields(("FNAME", f"Q{n}"))},
        )
        for n in range(count - count // 2)
    ]
    assert (await post_events(client, organization, sent)).status_code == 200
    return organization


async def test_a_page_of_recipients_costs_the_same_for_4_and_40(client, database, count_statements):
    few = await organization_with_recipients(client, database, 4)
    many = await organization_with_recipients(client, database, 40)
    counts = []
    for organization, size in ((few, 4), (many, 40)):
        with count_statements() as counter:
            found = await recipients_of(client, organization)
        counts.append(counter.count)
        assert len(found) == size
        assert found["p1@example.com"]["preview"].startswith('<p title="P1">Hello P1 from C1,')
        assert found["q1@example.com"]["preview"].startswith("<h1>Q1</h1>")
    assert counts[0] == counts[1]
