"""A campaign named by its global id or its external id, within one organization: the one rule
for every place that takes a campaign (GraphQL arguments, downloads, live statistics, the CLI's
exports). A global id is tried first, then the external id."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ids import parse_pk
from app.models import Campaign


def by_reference(organization_id: int, references: Sequence[str]) -> Select[Any]:
    """The organization's campaigns whose global id or external id is one of `references`."""
    pks = [pk for pk in (parse_pk(reference, "Campaign") for reference in references) if pk]
    table = Campaign.__table__
    return select(table).where(
        table.c.organization_id == organization_id,
        or_(table.c.id.in_(pks), table.c.external_id.in_(list(references))),
    )


def pick(found: Sequence[Any], reference: str) -> Any:
    """The campaign `reference` names among `found`: by global id first, else by external id."""
    pk = parse_pk(reference, "Campaign")
    by_id = next((row for row in found if row.id == pk), None)
    return by_id or next((row for row in found if row.external_id == reference), None)


async def campaign_row_by_reference(
    connection: AsyncConnection, organization_id: int, reference: str
) -> Any:
    """The organization's campaign row named by `reference`, or None; for callers outside a
    GraphQL operation (downloads, live statistics, the CLI)."""
    found = (await connection.execute(by_reference(organization_id, [reference]))).all()
    return pick(found, reference)
