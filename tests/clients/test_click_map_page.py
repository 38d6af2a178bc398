"""The click-map page in a real browser: headless Chromium renders a newsletter's click map with
its CSP sandbox, shows a badge with each link's numbers, loads nothing remote; the screenshot
(click-map.png) is kept with the CI artifacts."""

from typing import Any

import pytest

from app.enums import Role
from tests.clients import newsletter
from tests.clients.live import LiveServer, artifacts_folder, require_chromium, run_node
from tests.factories import UPSERT_CAMPAIGN, Organization, graphql, post_events

CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def badge_text(clicks: int, clickers: int, total: int) -> str:
    people = "person" if clickers == 1 else "people"
    plural = "click" if clicks == 1 else "clicks"
    return f"{clicks} {plural} · {clickers} {people} · {clicks / total * 100:.1f}%"


# SQLite only, like the GraphiQL browser test: the counts themselves are checked on both databases
# by tests/test_click_map.py.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_chromium_renders_the_click_map_with_visible_badges(
    live_server: LiveServer, client: Any, organization: Organization
) -> None:
    chromium = require_chromium()
    body = await graphql(
        client, organization, UPSERT_CAMPAIGN, {"input": newsletter.campaign_input("spring")}
    )
    campaign = body["data"]["upsertCampaign"]["campaign"]["id"]
    response = await post_events(client, organization, newsletter.events("spring"))
    assert response.status_code == 200, response.text
    found = await graphql(
        client, organization, '{ campaign(externalId: "spring") { variants { id } } }'
    )
    variant = found["data"]["campaign"]["variants"][0]["id"]
    artifacts = artifacts_folder()
    screenshot = artifacts / "click-map.png"
    screenshot.unlink(missing_ok=True)

    report = run_node(
        "click_map.mjs",
        {
            "PAGE_URL": f"{live_server.url}/campaigns/{campaign}/variants/{variant}/click-map.html",
            "API_KEY": organization.keys[Role.VIEWER],
            "ARTIFACTS": str(artifacts),
            "SCREENSHOT": "click-map.png",
            "CHROMIUM": chromium,
        },
    )

    assert report["status"] == 200 and report["csp"] == CSP
    # By hand: 65 human clicks in all (the scanner's 4 left out), 63 on the message's 9 links.
    total = sum(clicks for _, clicks, _ in newsletter.IN_MESSAGE + newsletter.NOT_IN_MESSAGE)
    assert total == 65
    in_message = [badge_text(c, p, total) for _, c, p in newsletter.IN_MESSAGE]
    assert in_message[1] == "24 clicks · 18 people · 36.9%"
    assert in_message[7] == "0 clicks · 0 people · 0.0%"
    not_in_message = [badge_text(c, p, total) for _, c, p in newsletter.NOT_IN_MESSAGE]
    assert report["badges"] == in_message + not_in_message
    assert report["linkMarks"] == [
        f"{n} {clicks}" for n, (_, clicks, _) in enumerate(newsletter.IN_MESSAGE, start=1)
    ]
    assert report["unmatched"] == [newsletter.GIFT_CARDS]
    assert report["title"] == "Click map · Spring sale newsletter · A"
    # Nothing runs, nothing remote loads: the page itself is the only request.
    assert report["scripts"] == 0
    assert report["outsideRequests"] == [] and report["failedRequests"] == []
    assert report["requests"] == [
        f"GET {live_server.url}/campaigns/{campaign}/variants/{variant}/click-map.html"
    ]
    assert report["pageErrors"] == []
    assert screenshot.stat().st_size > 10_000
