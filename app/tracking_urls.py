"""A recipient's signed open-pixel URL, and the click URL of one of its campaign's links."""

from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.providers.tracking import CLICK, OPEN, make_token
from app.models import Campaign, Contact, Link, Recipient


class TrackingUrlError(ValueError):
    """URLs that cannot be made; the message says why."""


def check_base_url(base_url: str) -> None:
    """TrackingUrlError unless `base_url` is an http(s) URL with a host."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise TrackingUrlError(
            f"--base-url must be an http(s) URL such as https://host: {base_url!r}"
        )


async def tracking_urls(
    connection: AsyncConnection,
    secret: str,
    organization_id: int,
    organization_name: str,
    campaign: str,
    email: str,
    link: str | None,
    base_url: str,
) -> tuple[str, str | None]:
    """The signed open-pixel URL of a recipient, and the click URL of one registered link."""
    check_base_url(base_url)
    row = (
        await connection.execute(
            select(Campaign.id, Recipient.id.label("recipient_id"))
            .join(Recipient, Recipient.campaign_id == Campaign.id)
            .join(Contact, Contact.id == Recipient.contact_id)
            .where(
                Campaign.organization_id == organization_id,
                Campaign.external_id == campaign,
                Contact.email == email.strip().lower(),
            )
        )
    ).first()
    if row is None:
        raise TrackingUrlError(
            f"{email!r} is not a recipient of campaign {campaign!r} in {organization_name!r}"
        )
    link_id = None
    if link is not None:
        link_id = (
            await connection.execute(
                select(Link.id).where(Link.campaign_id == row.id, Link.url == link)
            )
        ).scalar()
        if link_id is None:
            raise TrackingUrlError(
                f"{link!r} is not a link of campaign {campaign!r} "
                "(register it with upsertCampaign(links: ...))"
            )
    base = base_url.rstrip("/")
    open_url = f"{base}/t/o/{make_token(secret, OPEN, organization_id, row.recipient_id)}.gif"
    click_url = (
        f"{base}/t/c/{make_token(secret, CLICK, organization_id, row.recipient_id, int(link_id))}"
        if link_id is not None
        else None
    )
    return open_url, click_url
