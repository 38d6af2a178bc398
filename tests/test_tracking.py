"""Own tracking: signed pixel and click tokens; tampered tokens record nothing, no open redirect."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from app.cli import main
from app.ingest.providers.tracking import CLICK, OPEN, make_token, read_token
from app.main import create_app
from app.models import Link, Recipient
from app.settings import Settings
from tests.factories import event, make_campaign, make_organization, post_events
from tests.webhook_helpers import recipients as recipients_of
from tests.webhook_helpers import stats, stored

SECRET = "test-tracking-secret-0123456789abcdef"
OUTLOOK = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36 Edg/119.0"


@pytest.fixture
async def tracking_client(database: Any, database_url: str) -> Any:
    app = create_app(Settings(database_url=database_url, tracking_secret=SECRET), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


async def ids(
    database: Any, organization: Any, campaign_external_id: str
) -> tuple[dict[str, int], dict[str, int]]:
    """Recipient ids by email and link ids by URL of an organization's campaign."""
    from app.models import Campaign, Contact

    async with database.read() as connection:
        recipients = await connection.execute(
            select(Contact.email, Recipient.id)
            .join(Recipient, Recipient.contact_id == Contact.id)
            .join(Campaign, Campaign.id == Recipient.campaign_id)
            .where(Campaign.organization_id == organization.id)
            .where(Campaign.external_id == campaign_external_id)
        )
        links = await connection.execute(
            select(Link.url, Link.id)
            .join(Campaign, Campaign.id == Link.campaign_id)
            .where(Campaign.organization_id == organization.id)
            .where(Campaign.external_id == campaign_external_id)
        )
        return dict(recipients.all()), dict(links.all())


@pytest.fixture
async def sent(client: Any, organization: Any, database: Any) -> Any:
    """Campaign spring, sent to ann and bob, with two registered links."""
    await make_campaign(
        client, organization, "spring",
        links=[{"url": "https://example.com/pricing"}, {"url": "https://example.com/about"}],
    )  # fmt: skip
    await post_events(
        client, organization, [event("SENT", "ann@example.com"), event("SENT", "bob@example.com")]
    )
    await make_campaign(
        client, organization, "autumn", links=[{"url": "https://example.com/autumn"}]
    )
    return await ids(database, organization, "spring")


def test_tokens_round_trip_and_refuse_tampering() -> None:
    token = make_token(SECRET, CLICK, 1, 42, 7)
    assert read_token(SECRET, CLICK, token) is not None
    assert read_token(SECRET, CLICK, token).link_id == 7
    assert read_token(SECRET, OPEN, token) is None  # a click token is no open token
    assert read_token("another secret", CLICK, token) is None
    payload, mac = token.split(".")
    forged = make_token("guess", CLICK, 1, 43, 7).split(".")[0]
    assert read_token(SECRET, CLICK, f"{forged}.{mac}") is None
    assert read_token(SECRET, CLICK, token + "A") is None
    assert read_token(SECRET, CLICK, "garbage") is None


async def test_the_pixel_records_an_open(tracking_client, organization, sent) -> None:
    recipients, _ = sent
    token = make_token(SECRET, OPEN, organization.id, recipients["ann@example.com"])
    response = await tracking_client.get(f"/t/o/{token}.gif", headers={"User-Agent": OUTLOOK})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response.headers["cache-control"]
    await tracking_client.get(f"/t/o/{token}.gif", headers={"User-Agent": OUTLOOK})
    numbers = await stats(tracking_client, organization)
    assert (numbers["opened"], numbers["opens"], numbers["machineOpens"]) == (1, 2, 0)


async def test_the_click_redirects_to_the_registered_link_only(
    tracking_client, organization, sent
) -> None:
    recipients, links = sent
    token = make_token(
        SECRET,
        CLICK,
        organization.id,
        recipients["bob@example.com"],
        links["https://example.com/pricing"],
    )
    response = await tracking_client.get(f"/t/c/{token}", headers={"User-Agent": OUTLOOK})
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/pricing"
    numbers = await stats(tracking_client, organization)
    # A click proves an open.
    assert (numbers["clicked"], numbers["clicks"], numbers["opened"]) == (1, 1, 1)


async def test_tampered_or_foreign_tokens_record_nothing(
    tracking_client, organization, sent, database
) -> None:
    recipients, links = sent
    _, autumn_links = await ids(database, organization, "autumn")
    ann, pricing = recipients["ann@example.com"], links["https://example.com/pricing"]
    good = make_token(SECRET, CLICK, organization.id, ann, pricing)
    other = await make_organization(database)
    bad_clicks = [
        good[:-2] + ("AA" if not good.endswith("AA") else "BB"),  # tampered signature
        make_token("not the secret", CLICK, organization.id, ann, pricing),  # forged
        make_token(SECRET, OPEN, organization.id, ann),  # an open token used for a click
        make_token(SECRET, CLICK, organization.id, ann, autumn_links["https://example.com/autumn"]),
        make_token(SECRET, CLICK, other.id, ann, pricing),  # another organization's recipient
        make_token(SECRET, CLICK, organization.id, 999_999, pricing),
        "nonsense",
    ]
    before = await stored(database)
    for token in bad_clicks:
        response = await tracking_client.get(f"/t/c/{token}")
        assert response.status_code == 404, token
        assert "location" not in response.headers
    for token in (good, make_token("not the secret", OPEN, organization.id, ann)):
        response = await tracking_client.get(f"/t/o/{token}.gif")
        assert response.status_code == 200  # the pixel still shows, but records nothing
    assert await stored(database) == before


async def test_tracking_is_off_without_a_secret(client, organization, sent) -> None:
    recipients, links = sent
    token = make_token(
        SECRET,
        CLICK,
        organization.id,
        recipients["ann@example.com"],
        links["https://example.com/about"],
    )
    response = await client.get(f"/t/c/{token}")
    assert response.status_code == 503
    assert "TRACKING_SECRET" in response.json()["error"]
    assert (await client.get(f"/t/o/{token}.gif")).status_code == 503


async def test_head_requests_record_nothing(tracking_client, organization, sent, database) -> None:
    # Link scanners and prefetchers send HEAD; Starlette answers it on GET routes.
    recipients, links = sent
    ann = recipients["ann@example.com"]
    pixel = f"/t/o/{make_token(SECRET, OPEN, organization.id, ann)}.gif"
    click = f"/t/c/{make_token(SECRET, CLICK, organization.id, ann, links['https://example.com/pricing'])}"
    before = await stored(database)
    response = await tracking_client.head(pixel)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/gif"
    response = await tracking_client.head(click)
    assert response.status_code == 302
    assert response.headers["location"] == "https://example.com/pricing"
    assert await stored(database) == before
    numbers = await stats(tracking_client, organization)
    assert (numbers["opens"], numbers["clicks"]) == (0, 0)
    # A GET of the same URLs still records.
    await tracking_client.get(pixel, headers={"User-Agent": OUTLOOK})
    await tracking_client.get(click, headers={"User-Agent": OUTLOOK})
    numbers = await stats(tracking_client, organization)
    assert (numbers["opens"], numbers["clicks"]) == (1, 1)


async def test_the_cli_prints_urls_that_record(
    tracking_client, organization, sent, database_url, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRACKING_SECRET", SECRET)
    # The CLI runs its own event loop: in a thread, beside the test's.
    await asyncio.to_thread(
        main,
        [
            "tracking", "url", "--org", organization.name, "--campaign", "spring",
            "--contact", "Bob@Example.com", "--link", "https://example.com/about",
            "--base-url", "http://testserver/",
        ],
    )  # fmt: skip
    open_url, click_url = capsys.readouterr().out.split()
    assert open_url.startswith("http://testserver/t/o/") and open_url.endswith(".gif")
    assert click_url.startswith("http://testserver/t/c/")
    # The tokens name bob and the about link, as the app reads them.
    recipients, links = sent
    token = read_token(SECRET, CLICK, click_url.rsplit("/", 1)[1])
    assert token is not None
    assert (token.organization_id, token.recipient_id, token.link_id) == (
        organization.id,
        recipients["bob@example.com"],
        links["https://example.com/about"],
    )
    assert (await tracking_client.get(open_url, headers={"User-Agent": OUTLOOK})).status_code == 200
    response = await tracking_client.get(click_url, headers={"User-Agent": OUTLOOK})
    assert response.headers["location"] == "https://example.com/about"
    numbers = await stats(tracking_client, organization)
    assert (numbers["opened"], numbers["opens"], numbers["clicked"]) == (1, 1, 1)
    people = await recipients_of(tracking_client, organization)
    assert (people["bob@example.com"]["opens"], people["ann@example.com"]["opens"]) == (1, 0)


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--contact", "nobody@example.com"], "not a recipient"),
        (["--contact", "ann@example.com", "--link", "https://example.com/autumn"], "not a link"),
        (["--contact", "ann@example.com", "--base-url", "ftp://host"], "--base-url"),
    ],
)
async def test_the_cli_refuses_what_it_cannot_sign(
    organization, sent, database_url, monkeypatch, capsys, arguments, reason
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TRACKING_SECRET", SECRET)
    command = ["tracking", "url", "--org", organization.name, "--campaign", "spring", *arguments]
    with pytest.raises(SystemExit) as exit:
        await asyncio.to_thread(main, command)
    assert exit.value.code == 1
    assert reason in capsys.readouterr().err
    monkeypatch.delenv("TRACKING_SECRET")
    with pytest.raises(SystemExit):
        await asyncio.to_thread(main, command[:6] + ["--contact", "ann@example.com"])
    assert "TRACKING_SECRET" in capsys.readouterr().err
