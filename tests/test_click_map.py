"""The click map: a variant's message with each link's clicks, clickers and share, through
GraphQL (`Variant.clickMap`) and as a page for a person, against numbers counted by hand."""

from html.parser import HTMLParser
from typing import Any

import pytest

from app.ids import global_id
from app.message_views.sanitize import IMAGE_PLACEHOLDER
from tests.factories import event, graphql, make_campaign, make_organization, post_events

SHOP = "https://shop.example/"
SALE = "https://shop.example/sale?utm_source=news&utm_medium=email"
BLOG = "https://blog.example/spring"
ELSEWHERE = "https://elsewhere.example/forwarded"
PERSONAL = "https://shop.example/account"

MESSAGE_A = f"""
<table width="600" cellpadding="0" cellspacing="0"><tr><td style="padding: 24px">
<a href="{SHOP}"><img src="https://cdn.example/logo.png" alt="Shop" width="120"></a>
<h1 style="color: #111">Spring sale</h1>
<p>Hello {{{{first_name}}}}, <a href="{SALE.replace("&", "&amp;")}">see the sale</a>.</p>
<p><a href="{BLOG}">Read the blog</a> · <a href="{PERSONAL}?u={{{{id}}}}">Your account</a>
· <a href="mailto:help@shop.example">Help</a></p>
<img src="https://track.example/open.gif" width="1" height="1">
<script>alert("x")</script>
</td></tr></table>
"""
MESSAGE_B = f'<p>Other message: <a href="{SHOP}">shop</a></p>'

CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

VARIANTS = """
query($e: String!, $human: Boolean) {
  campaign(externalId: $e) {
    campaignHuman: stats(humanOnly: true) { clicks }
    campaignAll: stats { clicks }
    variants {
      id name
      clickMap(humanOnly: $human)
      links { url clicks clicked share }
      human: stats(humanOnly: true) { clicks }
      all: stats { clicks }
    }
  }
}
"""


class Marks(HTMLParser):
    """What a click map shows: each web link's data- attributes and the badge text after it."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[dict[str, Any]] = []
        self.badges: list[str] = []
        self.in_badge = False
        self.in_unmatched = False
        self.unmatched: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.tags: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.add(tag)
        if tag == "img":
            self.images.append(found)
        if tag == "div" and found.get("class") == "cg-unmatched-clicks":
            self.in_unmatched = True
        if tag == "a" and "data-clicks" in found:
            mark = {
                "href": found["href"],
                "clicks": int(found["data-clicks"] or 0),
                "clicked": int(found["data-unique-clickers"] or 0),
                "share": float(found["data-share"]) if found["data-share"] else None,
            }
            (self.unmatched if self.in_unmatched else self.links).append(mark)  # type: ignore[arg-type]
        if tag == "span" and found.get("class") == "cg-click-badge":
            self.in_badge = True
            self.badges.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self.in_badge = False

    def handle_data(self, data: str) -> None:
        if self.in_badge:
            self.badges[-1] += data


async def campaign_with_clicks(client: Any, organization: Any) -> dict[str, str]:
    """Variant A: ann, bob and cy; variant B: dee. Clicks minutes apart (no burst rule)."""
    campaign = await make_campaign(
        client,
        organization,
        "news",
        name="Spring news",
        variants=[{"name": "A", "html": MESSAGE_A}, {"name": "B", "html": MESSAGE_B}],
        links=[
            {"url": SHOP, "position": 1},
            {"url": SALE, "position": 2},
            {"url": BLOG, "position": 3},
            # The message's href carries a merge field: matched by its position, the 4th link.
            {"url": PERSONAL, "position": 4},
        ],
    )
    people = {"ann": "A", "bob": "A", "cy": "A", "dee": "B"}
    events = [
        event("SENT", f"{name}@example.com", "news", 0, variant=variant)
        for name, variant in people.items()
    ]
    clicks = [
        ("ann", SHOP, 60, None),
        ("ann", SHOP, 90, None),
        ("ann", SALE, 120, None),
        ("bob", SHOP, 61, True),  # a scanner's, reported by the sender
        ("bob", SALE, 200, None),
        ("bob", PERSONAL, 210, None),
        ("cy", ELSEWHERE, 300, None),
        ("cy", SALE, 330, True),
        ("dee", SHOP, 100, None),
    ]
    for name, url, minutes, bot in clicks:
        extra: dict[str, Any] = {"url": url, "variant": people[name]}
        if bot is not None:
            extra["bot"] = bot
        events.append(event("CLICKED", f"{name}@example.com", "news", minutes, **extra))
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    found = await graphql(client, organization, VARIANTS, {"e": "news", "human": False})
    variants = {v["name"]: v["id"] for v in found["data"]["campaign"]["variants"]}
    return {"campaign": campaign, **variants}


# By hand, variant A. All clicks: SHOP ann 2 + bob 1 = 3 by 2 people; SALE ann, bob, cy = 3 by
# 3; BLOG none; PERSONAL bob 1; ELSEWHERE cy 1: 8 clicks. Human only (bob's SHOP and cy's SALE
# clicks left out): SHOP 2 by 1, SALE 2 by 2, PERSONAL 1, ELSEWHERE 1: 6 clicks.
ALL_CLICKS = {SHOP: (3, 2), SALE: (3, 3), BLOG: (0, 0), PERSONAL: (1, 1), ELSEWHERE: (1, 1)}
HUMAN_CLICKS = {SHOP: (2, 1), SALE: (2, 2), BLOG: (0, 0), PERSONAL: (1, 1), ELSEWHERE: (1, 1)}
VARIANT_ALL, VARIANT_HUMAN = 8, 6
# A share divides by the whole campaign's clicks: variant A's and dee's one human click in B.
ALL_TOTAL, HUMAN_TOTAL = VARIANT_ALL + 1, VARIANT_HUMAN + 1


def expected_marks(counts: dict[str, tuple[int, int]], total: int) -> list[dict[str, Any]]:
    in_message = [(SHOP, SHOP), (SALE, SALE), (BLOG, BLOG), (PERSONAL, PERSONAL + "?u={{id}}")]
    return [
        {
            "href": href,
            "clicks": counts[url][0],
            "clicked": counts[url][1],
            "share": pytest.approx(counts[url][0] / total, abs=1e-6),
        }
        for url, href in in_message
    ]


@pytest.mark.parametrize(
    ("human_only", "counts", "total", "shop_badge"),
    [
        # SHOP: 2 of the campaign's 7 human clicks; 3 of its 9 clicks.
        (True, HUMAN_CLICKS, HUMAN_TOTAL, "2 clicks · 1 person · 28.6%"),
        (False, ALL_CLICKS, ALL_TOTAL, "3 clicks · 2 people · 33.3%"),
    ],
)
async def test_click_map_counts_equal_the_link_statistics(
    client, organization, human_only, counts, total, shop_badge
) -> None:
    await campaign_with_clicks(client, organization)
    body = await graphql(client, organization, VARIANTS, {"e": "news", "human": human_only})
    variant = next(v for v in body["data"]["campaign"]["variants"] if v["name"] == "A")
    marks = Marks(variant["clickMap"])

    # Every web link of the message is marked, in order; the mailto link is not a tracked link.
    assert marks.links == expected_marks(counts, total)
    assert marks.unmatched == [
        {
            "href": ELSEWHERE,
            "clicks": 1,
            "clicked": 1,
            "share": pytest.approx(1 / total, abs=1e-6),
        }
    ]
    # The variant's own statistics say the same totals, and the campaign's are the shares' base.
    kind = "human" if human_only else "all"
    assert variant[kind]["clicks"] == (VARIANT_HUMAN if human_only else VARIANT_ALL)
    assert sum(clicks for clicks, _ in counts.values()) == variant[kind]["clicks"]
    campaign_totals = body["data"]["campaign"]
    assert campaign_totals["campaignHuman" if human_only else "campaignAll"]["clicks"] == total
    if not human_only:
        # ...and so do the campaign's link statistics for this variant.
        assert {link["url"]: (link["clicks"], link["clicked"]) for link in variant["links"]} == {
            url: pair for url, pair in ALL_CLICKS.items()
        }
    # One badge after each marked link, with its numbers as visible text.
    assert marks.badges[0] == shop_badge
    assert marks.badges[2] == "0 clicks · 0 people · 0.0%"
    assert len(marks.badges) == 5


async def test_click_map_is_sanitized(client, organization) -> None:
    await campaign_with_clicks(client, organization)
    body = await graphql(client, organization, VARIANTS, {"e": "news", "human": True})
    variant = next(v for v in body["data"]["campaign"]["variants"] if v["name"] == "A")
    marks = Marks(variant["clickMap"])
    assert "script" not in marks.tags and "alert" not in variant["clickMap"]
    assert [image["src"] for image in marks.images] == [IMAGE_PLACEHOLDER, IMAGE_PLACEHOLDER]
    assert [image["data-original-src"] for image in marks.images] == [
        "https://cdn.example/logo.png",
        "https://track.example/open.gif",
    ]


async def test_click_map_of_the_other_variant_counts_its_own_clicks(client, organization) -> None:
    await campaign_with_clicks(client, organization)
    body = await graphql(client, organization, VARIANTS, {"e": "news", "human": True})
    variant = next(v for v in body["data"]["campaign"]["variants"] if v["name"] == "B")
    # dee's one click on SHOP is all of variant B's clicks, one of the campaign's 7 human ones.
    assert Marks(variant["clickMap"]).links == [
        {"href": SHOP, "clicks": 1, "clicked": 1, "share": pytest.approx(1 / 7, abs=1e-6)}
    ]


async def test_click_map_page(client, organization) -> None:
    ids = await campaign_with_clicks(client, organization)
    path = f"/campaigns/{ids['campaign']}/variants/{ids['A']}/click-map.html"
    page = await client.get(path, headers=organization.headers())
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-content-type-options"] == "nosniff"
    assert Marks(page.text).links == expected_marks(HUMAN_CLICKS, HUMAN_TOTAL)

    # humanOnly=false counts every click; the campaign's external id works too.
    every = await client.get(
        f"/campaigns/news/variants/{ids['A']}/click-map.html?humanOnly=false",
        headers=organization.headers(),
    )
    assert every.status_code == 200, every.text
    assert Marks(every.text).links == expected_marks(ALL_CLICKS, ALL_TOTAL)


async def test_click_map_page_refusals(client, database, organization) -> None:
    ids = await campaign_with_clicks(client, organization)
    path = f"/campaigns/{ids['campaign']}/variants/{ids['A']}/click-map.html"
    assert (await client.get(path)).status_code == 401

    other = await make_organization(database)
    refused = await client.get(path, headers=other.headers())
    assert refused.status_code == 404
    assert "no campaign" in refused.json()["error"]

    # The variant of another campaign, even of the same organization, is not this campaign's.
    await make_campaign(client, organization, "other", variants=[{"name": "X", "html": "<p>x</p>"}])
    found = await graphql(client, organization, VARIANTS, {"e": "other", "human": True})
    foreign = found["data"]["campaign"]["variants"][0]["id"]
    wrong = await client.get(
        f"/campaigns/{ids['campaign']}/variants/{foreign}/click-map.html",
        headers=organization.headers(),
    )
    assert wrong.status_code == 404 and "no variant" in wrong.json()["error"]

    bad = {
        "/campaigns/news/variants/not-an-id/click-map.html": "is not a Variant id",
        f"/campaigns/news/variants/{ids['campaign']}/click-map.html": "is not a Variant id",
        f"{path}?humanOnly=maybe": "humanOnly must be true or false",
        f"{path}?color=red": "unknown query parameter",
    }
    for url, reason in bad.items():
        response = await client.get(url, headers=organization.headers())
        assert response.status_code == 400, url
        assert reason in response.json()["error"]
    missing = await client.get(
        f"/campaigns/news/variants/{global_id('Variant', 10**9)}/click-map.html",
        headers=organization.headers(),
    )
    assert missing.status_code == 404


async def test_the_only_variant_also_counts_recipients_whose_events_named_no_variant(
    client, organization
) -> None:
    await make_campaign(
        client,
        organization,
        "solo",
        variants=[{"name": "only", "html": MESSAGE_B + f'<p><a href="{SALE}">sale</a></p>'}],
        links=[{"url": SHOP, "position": 1}, {"url": SALE, "position": 2}],
    )
    # ann's events name no variant (her preview shows the only one); bob's name it; cy's click
    # is a scanner's.
    events = [
        event("SENT", "ann@example.com", "solo", 0),
        event("CLICKED", "ann@example.com", "solo", 30, url=SHOP),
        event("CLICKED", "ann@example.com", "solo", 40, url=SHOP),
        event("SENT", "bob@example.com", "solo", 0, variant="only"),
        event("CLICKED", "bob@example.com", "solo", 50, url=SALE, variant="only"),
        event("SENT", "cy@example.com", "solo", 0),
        event("CLICKED", "cy@example.com", "solo", 60, url=SHOP, bot=True),
    ]
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text
    share = pytest.approx
    # By hand. Human: SHOP 2 by ann, SALE 1 by bob, of 3 clicks. All: SHOP 3 by 2, of 4.
    expected = {
        True: [
            {"href": SHOP, "clicks": 2, "clicked": 1, "share": share(2 / 3, abs=1e-6)},
            {"href": SALE, "clicks": 1, "clicked": 1, "share": share(1 / 3, abs=1e-6)},
        ],
        False: [
            {"href": SHOP, "clicks": 3, "clicked": 2, "share": share(3 / 4, abs=1e-6)},
            {"href": SALE, "clicks": 1, "clicked": 1, "share": share(1 / 4, abs=1e-6)},
        ],
    }
    for human_only, marks in expected.items():
        body = await graphql(client, organization, VARIANTS, {"e": "solo", "human": human_only})
        (variant,) = body["data"]["campaign"]["variants"]
        assert Marks(variant["clickMap"]).links == marks, human_only
