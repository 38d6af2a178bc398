"""Campaign.engagement: opens and clicks per country, domain, email client and device."""

from tests.factories import event, graphql, make_campaign, post_events

GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
YAHOO_PROXY = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36"
)

# ann opens in Gmail and clicks in Chrome on Windows; bob opens twice in Apple Mail on an
# iPhone; cat opens in Yahoo Mail; dan only clicks, in Chrome on an Android phone (a click
# proves an open); eve is sent the message and does nothing. Four recipients opened.
EVENTS = [
    event("SENT", "eve@example.org"),
    event("OPENED", "ann@gmail.com", minutes=1, country="NL", userAgent=GMAIL_PROXY),
    event("CLICKED", "ann@gmail.com", minutes=2, country="NL", userAgent=WINDOWS_CHROME),
    event("OPENED", "bob@gmail.com", minutes=3, country="DE", userAgent=IPHONE_MAIL),
    event("OPENED", "bob@gmail.com", minutes=4, country="DE", userAgent=IPHONE_MAIL),
    event("OPENED", "cat@yahoo.com", minutes=5, country="NL", userAgent=YAHOO_PROXY),
    event("CLICKED", "dan@example.org", minutes=6, country="US", userAgent=ANDROID_CHROME),
]

ENGAGEMENT = """
query($dimension: Dimension!, $first: Int) {
  campaign(externalId: "spring") {
    stats { opened }
    engagement(dimension: $dimension, first: $first) { value opens opened clicks clicked share }
  }
}
"""


async def engagement(client, organization, dimension, first=None):
    body = await graphql(client, organization, ENGAGEMENT, {"dimension": dimension, "first": first})
    campaign = body["data"]["campaign"]
    assert campaign["stats"]["opened"] == 4
    return [
        (r["value"], r["opens"], r["opened"], r["clicks"], r["clicked"], r["share"])
        for r in campaign["engagement"]
    ]


async def test_engagement_by_dimension(client, organization):
    await make_campaign(client, organization, "spring")
    assert (await post_events(client, organization, EVENTS)).status_code == 200

    # (value, opens, opened, clicks, clicked, share = opened / 4)
    assert await engagement(client, organization, "COUNTRY") == [
        ("NL", 2, 2, 1, 1, 0.5),  # ann and cat
        ("DE", 2, 1, 0, 0, 0.25),  # bob, twice
        ("US", 0, 1, 1, 1, 0.25),  # dan's click proves his open
    ]
    assert await engagement(client, organization, "EMAIL_DOMAIN") == [
        ("gmail.com", 3, 2, 1, 1, 0.5),
        ("example.org", 0, 1, 1, 1, 0.25),  # eve did nothing: no engagement
        ("yahoo.com", 1, 1, 0, 0, 0.25),
    ]
    # One opener each, so by name.
    assert await engagement(client, organization, "EMAIL_CLIENT") == [
        ("Apple Mail", 2, 1, 0, 0, 0.25),
        ("Chrome", 0, 1, 1, 1, 0.25),  # ann clicked through from webmail in Chrome
        ("Chrome Mobile", 0, 1, 1, 1, 0.25),
        ("Gmail", 1, 1, 0, 0, 0.25),
        ("Yahoo Mail", 1, 1, 0, 0, 0.25),
    ]
    # Image proxies hide the reader's device: those opens have none.
    assert await engagement(client, organization, "DEVICE") == [
        ("Mobile", 2, 2, 1, 1, 0.5),  # bob's iPhone, dan's Android phone
        ("Desktop", 0, 1, 1, 1, 0.25),  # ann's Windows PC
    ]
    assert await engagement(client, organization, "OS") == [
        ("Android", 0, 1, 1, 1, 0.25),
        ("Windows", 0, 1, 1, 1, 0.25),
        ("iOS", 2, 1, 0, 0, 0.25),
    ]
    assert await engagement(client, organization, "COUNTRY", first=2) == [
        ("NL", 2, 2, 1, 1, 0.5),
        ("DE", 2, 1, 0, 0, 0.25),
    ]
    assert await engagement(client, organization, "CITY") == []


async def test_bad_first_is_a_clear_error(client, organization):
    await make_campaign(client, organization, "spring")
    body = await graphql(
        client,
        organization,
        ENGAGEMENT,
        {"dimension": "COUNTRY", "first": -1},
        expect_errors=True,
    )
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


LIST = """
query { campaigns(first: 20) { edges { node {
  name
  engagement(dimension: COUNTRY) { value opened share }
  clients: engagement(dimension: EMAIL_CLIENT, first: 3) { value opened share }
} } } }
"""


async def test_statements_do_not_grow_with_campaigns(client, organization, count_statements):
    async def statements_for(number: int) -> int:
        for index in range(number):
            name = f"campaign-{number}-{index}"
            await make_campaign(client, organization, name)
            await post_events(
                client,
                organization,
                [
                    event("OPENED", "a@example.com", campaign=name, country="NL"),
                    event("OPENED", "b@example.com", campaign=name, country="BE"),
                ],
            )
        with count_statements() as counter:
            body = await graphql(client, organization, LIST)
        for edge in body["data"]["campaigns"]["edges"]:
            assert edge["node"]["engagement"] == [
                {"value": "BE", "opened": 1, "share": 0.5},
                {"value": "NL", "opened": 1, "share": 0.5},
            ]
        return counter.count

    one = await statements_for(1)
    many = await statements_for(4)
    assert many == one
