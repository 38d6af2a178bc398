"""The preview page for a person: a recipient's own message, sanitized, under a CSP sandbox,
scoped to the key's organization like the downloads."""

from html.parser import HTMLParser

from app.ids import global_id
from app.message_views.sanitize import IMAGE_PLACEHOLDER
from tests.factories import add_recipients, graphql, make_campaign, make_organization

CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
MESSAGE = (
    '<p style="color: #111">Hello {{first_name|friend}},</p>'
    '<p><a href="https://shop.example/sale" onclick="steal()">See the sale</a></p>'
    '<img src="https://track.example/open.gif" width="1" height="1">'
    "<script>alert(1)</script>"
)
RECIPIENTS = """
query($e: String!) { campaign(externalId: $e) {
  recipients(first: 10) { edges { node { id contact { email } } } } } }
"""


class Body(HTMLParser):
    """The page's message: the text of its paragraphs and its tags."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.paragraphs: list[str] = []
        self.tags: list[str] = []
        self.image_sources: list[str | None] = []
        self.in_paragraph = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "img":
            self.image_sources.append(dict(attrs).get("src"))
        if tag == "p":
            self.in_paragraph = True
            self.paragraphs.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self.in_paragraph = False

    def handle_data(self, data: str) -> None:
        if self.in_paragraph:
            self.paragraphs[-1] += data


async def recipient_ids(client, organization) -> tuple[str, dict[str, str]]:
    campaign = await make_campaign(
        client, organization, "spring", variants=[{"name": "A", "html": MESSAGE}]
    )
    await add_recipients(
        client,
        organization,
        campaign,
        [
            {
                "email": "ann@example.com",
                "mergeFields": [{"name": "first_name", "value": "Ann <b>&</b> Co"}],
            },
            {"email": "bob@example.com"},
        ],
        variant_name="A",
    )
    body = await graphql(client, organization, RECIPIENTS, {"e": "spring"})
    edges = body["data"]["campaign"]["recipients"]["edges"]
    return campaign, {e["node"]["contact"]["email"]: e["node"]["id"] for e in edges}


async def test_each_recipient_sees_its_own_sanitized_message(client, organization) -> None:
    campaign, recipients = await recipient_ids(client, organization)
    expected = {
        # Ann's value lands as text (escaped), Bob has no value: the placeholder's default.
        "ann@example.com": ["Hello Ann <b>&</b> Co,", "See the sale"],
        "bob@example.com": ["Hello friend,", "See the sale"],
    }
    for email, paragraphs in expected.items():
        page = await client.get(
            f"/campaigns/{campaign}/recipients/{recipients[email]}/preview.html",
            headers=organization.headers(),
        )
        assert page.status_code == 200, page.text
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-content-type-options"] == "nosniff"
        body = Body(page.text)
        assert body.paragraphs[-2:] == paragraphs
        assert "script" not in body.tags and "b" not in body.tags
        assert "steal" not in page.text
        # The tracking pixel is a placeholder that loads nothing.
        assert body.image_sources == [IMAGE_PLACEHOLDER]


async def test_preview_page_refusals(client, database, organization) -> None:
    campaign, recipients = await recipient_ids(client, organization)
    ann = recipients["ann@example.com"]
    path = f"/campaigns/{campaign}/recipients/{ann}/preview.html"
    assert (await client.get(path)).status_code == 401
    assert (await client.get(path, headers={"Authorization": "Bearer nope"})).status_code == 401

    other = await make_organization(database)
    refused = await client.get(path, headers=other.headers())
    assert refused.status_code == 404 and "no campaign" in refused.json()["error"]
    # The other organization's own campaign of the same external id does not reach Ann either.
    await make_campaign(client, other, "spring", variants=[{"name": "A", "html": MESSAGE}])
    crossed = await client.get(
        f"/campaigns/spring/recipients/{ann}/preview.html", headers=other.headers()
    )
    assert crossed.status_code == 404 and "no recipient" in crossed.json()["error"]

    # A recipient of another campaign of the same organization is not this campaign's.
    _, second = await recipient_ids_of_second_campaign(client, organization)
    wrong = await client.get(
        f"/campaigns/{campaign}/recipients/{second}/preview.html", headers=organization.headers()
    )
    assert wrong.status_code == 404

    for url, reason in {
        f"/campaigns/{campaign}/recipients/not-an-id/preview.html": "is not a Recipient id",
        f"/campaigns/{campaign}/recipients/{campaign}/preview.html": "is not a Recipient id",
        f"{path}?x=1": "unknown query parameter",
    }.items():
        response = await client.get(url, headers=organization.headers())
        assert response.status_code == 400, url
        assert reason in response.json()["error"]
    missing = await client.get(
        f"/campaigns/{campaign}/recipients/{global_id('Recipient', 10**9)}/preview.html",
        headers=organization.headers(),
    )
    assert missing.status_code == 404


async def recipient_ids_of_second_campaign(client, organization) -> tuple[str, str]:
    campaign = await make_campaign(
        client, organization, "summer", variants=[{"name": "A", "html": MESSAGE}]
    )
    await add_recipients(client, organization, campaign, [{"email": "cy@example.com"}], "A")
    body = await graphql(client, organization, RECIPIENTS, {"e": "summer"})
    return campaign, body["data"]["campaign"]["recipients"]["edges"][0]["node"]["id"]
