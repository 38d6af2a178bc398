"""Organizations: finding one by name and creating one (the CLI, the demo, webhooks)."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.models import Organization


class OrganizationError(ValueError):
    """An organization that cannot be created; the message says why."""


async def organization_by_name(connection: AsyncConnection, name: str) -> int | None:
    """The id of the organization with this name, if there is one."""
    found = (
        await connection.execute(select(Organization.id).where(Organization.name == name))
    ).scalar()
    return int(found) if found is not None else None


async def create_organization(connection: AsyncConnection, name: str, timezone: str) -> int:
    """A new organization's id; OrganizationError for an unknown time zone or a taken name."""
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise OrganizationError(
            f"unknown time zone {timezone!r} (an IANA name such as Europe/Amsterdam)"
        ) from None
    if await organization_by_name(connection, name) is not None:
        raise OrganizationError(f"an organization named {name!r} exists already")
    result = await connection.execute(
        insert(Organization)
        .values(name=name, timezone=timezone, created_at=datetime.now(UTC))
        .returning(Organization.id)
    )
    return int(result.scalar_one())
