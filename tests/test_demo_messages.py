"""The demo's messages are worth opening: every campaign has a variant with html whose tracked
links the click map marks with the clicks counted from the demo's own responses, and every sent
recipient has merge fields its preview is filled with."""

import io
import re
from collections import Counter
from html.parser import HTMLParser
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select

from app.auth import authenticate
from app.demo.loader import load_demo
from app.demo.plans import CAMPAIGNS
from app.enums import Role
from app.models import Campaign, Link, Recipient, Response, Variant
from tests.factories import Organization, graphql

# The demo makes its own organization by name.
pytestmark = pytest.mark.fresh_database

CLICK_MAPS = """
query {
  campaigns(first: 20) { edges { node {
    externalId
    variants { name html human: clickMap all: clickMap(humanOnly: false) }
  } } }
}
"""
PREVIEWS = """
query($e: String!) {
  campaign(externalId: $e) {
    recipients(first: 40) { edges { node {
      status contact { name externalId } mergeFields { name value } preview
    } } }
  }
}
"""


class Marks(HTMLParser):
    """Each marked link of a click map: (href, data-clicks, data-unique-clickers)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, int, int]] = []
        self.unmatched = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.unmatched = self.unmatched or found.get("class") == "cg-unmatched-clicks"
        if tag == "a" and "data-clicks" in found:
            clicks, clickers = found["data-clicks"], found["data-unique-clickers"]
            self.links.append((str(found["href"]), int(clicks or 0), int(clickers or 0)))


async def test_demo_click_maps_and_previews_show_the_demo_data(database, client) -> None:
    key = await load_demo(database, 300, "Demo", Console(file=io.StringIO()))
    async with database.read() as connection:
        principal = await authenticate(connection, key)
        assert principal is not None
        # Counted from the responses themselves, per variant and link URL (recipients carry
        # the variant their events named).
        rows = (
            await connection.execute(
                select(
                    Campaign.external_id,
                    Variant.name,
                    Link.url,
                    Response.recipient_id,
                    Response.bot,
                )
                .select_from(Response)
                .join(Recipient, Recipient.id == Response.recipient_id)
                .join(Variant, Variant.id == Recipient.variant_id)
                .join(Campaign, Campaign.id == Variant.campaign_id)
                .join(Link, Link.id == Response.link_id)
                .where(Response.type == "CLICKED", Response.deleted_at.is_(None))
            )
        ).all()
    organization = Organization(principal.organization_id, "Demo", {Role.ADMIN: key})
    # By (campaign, variant, link URL): variant names and URLs repeat across campaigns.
    clicks: dict[bool, Counter[tuple[str, str, str]]] = {True: Counter(), False: Counter()}
    clickers: dict[bool, dict[tuple[str, str, str], set[int]]] = {True: {}, False: {}}
    for row in rows:
        for human_only in (True, False):
            if human_only and row.bot:
                continue
            where = (row.external_id, row.name, row.url)
            clicks[human_only][where] += 1
            clickers[human_only].setdefault(where, set()).add(row.recipient_id)

    body = await graphql(client, organization, CLICK_MAPS)
    campaigns = {
        edge["node"]["externalId"]: edge["node"] for edge in body["data"]["campaigns"]["edges"]
    }
    assert set(campaigns) == {plan.external_id for plan in CAMPAIGNS}
    for plan in CAMPAIGNS:
        variants = campaigns[plan.external_id]["variants"]
        assert [variant["name"] for variant in variants] == [v.name for v in plan.variants]
        for variant in variants:
            for human_only, html in ((True, variant["human"]), (False, variant["all"])):
                marks = Marks(html)
                # Every tracked link of the campaign is in the message, in position order, and
                # nothing clicked is outside it.
                assert [href for href, _, _ in marks.links] == [link.url for link in plan.links]
                assert not marks.unmatched
                wheres = [(plan.external_id, variant["name"], link.url) for link in plan.links]
                assert marks.links == [
                    (where[2], clicks[human_only][where], len(clickers[human_only].get(where, ())))
                    for where in wheres
                ]
            assert "{{FNAME|there}}" in variant["html"] and "*|CITY|*" in variant["html"]
    # The demo's click maps are not all zeros, and bots make the two counts differ somewhere.
    assert sum(clicks[True].values()) > 0
    assert clicks[True] != clicks[False]

    for plan in CAMPAIGNS:
        body = await graphql(client, organization, PREVIEWS, {"e": plan.external_id})
        sent = [
            edge["node"]
            for edge in body["data"]["campaign"]["recipients"]["edges"]
            if edge["node"]["status"] != "NOT_SENT"
        ]
        assert sent
        for recipient in sent:
            number = int(recipient["contact"]["externalId"].removeprefix("crm-"))
            first_name = recipient["contact"]["name"].split(" ")[0]
            fields: dict[str, Any] = {f["name"]: f["value"] for f in recipient["mergeFields"]}
            assert set(fields) == {"FNAME", "CITY", "MEMBER_ID"}
            assert fields["FNAME"] == first_name
            assert fields["MEMBER_ID"] == f"NW-{number:06d}"
            preview = recipient["preview"]
            assert f"Hi {first_name}," in preview
            assert f"member in {fields['CITY']} (member number NW-{number:06d})" in preview
            assert not re.search(r"\{\{|\*\|", preview)
