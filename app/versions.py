"""Data versions: a counter per campaign and per organization, bumped by every write in its own
transaction, so that a cached answer can be checked against them in one cheap statement.

What a scope means (table data_versions, one row per organization and scope):
- scope = a campaign id: the campaign's version moves whenever a committed write changed anything
  read under that campaign: its own fields, variants, links, recipients (their own fields, merge
  fields, order and filters), responses and every pre-aggregated statistic of it (stats,
  timeline, engagement, link clicks). A Contact object is not under a campaign, even when reached
  through a recipient: it is organization-wide (its fields and history span campaigns).
- scope = 0 (ORGANIZATION): the organization's version moves with EVERY committed write in the
  organization, whatever it changed: any campaign's version above, and also what belongs to no
  single campaign (a new campaign, contacts, owners, the response history across campaigns).
  So an unchanged organization version means nothing in the organization changed: it is a
  sufficient key for any answer, and the one an answer must use when it read anything that is not
  under a campaign scope (campaign lists, contacts, search, owners, a lookup that found no campaign).
A scope without a row has version 0 (nothing written since versions exist); versions only grow.
`changed_at` is the writer's clock when the write bumped it (just before its commit); it never
moves back, even when the writers' clocks disagree.

Who bumps: every write path calls `bump` inside its write transaction with the campaigns it
changed: ingest (app/ingest/apply.py: webhooks, POST /events, tracking, the CLI's ingest and
demo, refused-event replays, kept events applied later; events kept aside move the
organization), the manual mutations (recordResponse, updateResponseStatus, deleteResponses),
upsertCampaign (campaign, variants, links) and addRecipients (recipients, contacts, merge fields;
a renamed contact also moves every campaign it is a recipient of, whose lists it re-sorts),
`reconcile --repair` and `reclassify` (through `bump_campaigns`). A write that changed nothing
(a replayed event, a refused input) does not bump.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from app.database import in_chunks
from app.models import Campaign, DataVersion, Recipient

ORGANIZATION = 0  # the scope of the organization as a whole
# An answer that read more campaigns than this is keyed by the organization's version alone: the
# check stays one small statement even for an organization with 10,000 campaigns.
MAX_CAMPAIGN_SCOPES = 200

_table = DataVersion.__table__


@dataclass(frozen=True, slots=True)
class Version:
    number: int  # 0: never written since versions exist
    changed_at: datetime | None  # None: never written


NEVER = Version(0, None)


@dataclass(frozen=True, slots=True)
class VersionSet:
    """The versions an answer depends on, read in one statement.

    `campaigns` is None when the set stands for the whole organization (asked for no campaigns,
    or for more than MAX_CAMPAIGN_SCOPES): then only `organization` counts. Two sets read for the
    same campaigns are equal exactly when no write to them committed in between."""

    organization_id: int
    organization: Version
    campaigns: Mapping[int, Version] | None

    @property
    def token(self) -> str:
        """A short string that changes whenever a version in the set moves (for ETags, keys)."""
        if self.campaigns is None:
            return f"{self.organization_id}:o{self.organization.number}"
        parts = ",".join(f"{pk}.{v.number}" for pk, v in sorted(self.campaigns.items()))
        return f"{self.organization_id}:c{parts}"

    @property
    def changed_at(self) -> datetime | None:
        """When the newest write the set covers was made (None: none yet)."""
        covered = [self.organization] if self.campaigns is None else self.campaigns.values()
        stamps = [v.changed_at for v in covered if v.changed_at is not None]
        return max(stamps, default=None)


def _insert(connection: AsyncConnection) -> Any:
    if connection.dialect.name == "postgresql":
        return postgresql.insert(DataVersion)
    return sqlite.insert(DataVersion)


async def bump(
    connection: AsyncConnection,
    organization_id: int,
    campaign_ids: Iterable[int],
    now: datetime | None = None,
) -> None:
    """Move the versions of these campaigns and of their organization, in the caller's write
    transaction. One statement whatever the count; rows in ascending scope order, so concurrent
    writers lock them in one order (no deadlock on PostgreSQL). Every writer of the organization
    takes its row (scope 0) until it commits: call this after the transaction's other locks."""
    stamp = now or datetime.now(UTC)
    scopes = sorted({ORGANIZATION, *(int(pk) for pk in campaign_ids if pk)})
    statement = _insert(connection).values(
        [
            {"organization_id": organization_id, "scope": scope, "version": 1, "changed_at": stamp}
            for scope in scopes
        ]
    )
    newer = statement.excluded.changed_at > _table.c.changed_at
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=[_table.c.organization_id, _table.c.scope],
            set_={
                "version": _table.c.version + 1,
                "changed_at": case(
                    (newer, statement.excluded.changed_at), else_=_table.c.changed_at
                ),
            },
        )
    )


async def bump_campaigns(
    connection: AsyncConnection, campaign_ids: Iterable[int], now: datetime | None = None
) -> None:
    """`bump` for campaigns of any organizations (reconcile, reclassify): one read of their
    organizations, then one bump per organization, in organization order."""
    ids = sorted({int(pk) for pk in campaign_ids if pk})
    by_organization: dict[int, list[int]] = {}
    for chunk in in_chunks(ids):
        if not chunk:
            continue
        rows = await connection.execute(
            select(Campaign.organization_id, Campaign.id).where(Campaign.id.in_(chunk))
        )
        for organization_id, campaign_id in rows:
            by_organization.setdefault(int(organization_id), []).append(int(campaign_id))
    for organization_id in sorted(by_organization):
        await bump(connection, organization_id, by_organization[organization_id], now)


async def campaigns_of_contacts(
    connection: AsyncConnection, contact_ids: Iterable[int]
) -> set[int]:
    """The campaigns these contacts are recipients of: renaming a contact re-sorts (and shows
    anew) the recipient lists of each of them."""
    campaigns: set[int] = set()
    for chunk in in_chunks(sorted({int(pk) for pk in contact_ids})):
        if chunk:
            rows = await connection.execute(
                select(Recipient.campaign_id).where(Recipient.contact_id.in_(chunk)).distinct()
            )
            campaigns.update(int(pk) for pk in rows.scalars())
    return campaigns


_READ = select(_table.c.scope, _table.c.version, _table.c.changed_at).where(
    _table.c.organization_id == bindparam("organization_id"),
    _table.c.scope.in_(bindparam("scopes", expanding=True)),
)


async def read(
    connection: AsyncConnection, organization_id: int, campaign_ids: Iterable[int] | None
) -> VersionSet:
    """The versions of these campaigns and of the organization, in one statement. None (or more
    than MAX_CAMPAIGN_SCOPES campaigns): the organization's version alone."""
    ids = None if campaign_ids is None else sorted({int(pk) for pk in campaign_ids if pk})
    if ids is not None and len(ids) > MAX_CAMPAIGN_SCOPES:
        ids = None
    rows = await connection.execute(
        _READ, {"organization_id": organization_id, "scopes": [ORGANIZATION, *(ids or ())]}
    )
    found = {int(scope): Version(int(number), changed_at) for scope, number, changed_at in rows}
    return VersionSet(
        organization_id=organization_id,
        organization=found.get(ORGANIZATION, NEVER),
        campaigns=None if ids is None else {pk: found.get(pk, NEVER) for pk in ids},
    )


async def campaign_numbers(
    connection: AsyncConnection, campaign_ids: Iterable[int]
) -> dict[int, int]:
    """The version numbers of these campaigns, whatever their organizations (campaigns never
    written: absent). For the SQLite subscription poller; one statement per 1,000 campaigns."""
    ids = sorted({int(pk) for pk in campaign_ids if pk})
    numbers: dict[int, int] = {}
    for chunk in in_chunks(ids):
        if not chunk:
            continue
        rows = await connection.execute(
            select(_table.c.scope, _table.c.version).where(
                _table.c.scope.in_(chunk), _table.c.scope != ORGANIZATION
            )
        )
        numbers.update((int(scope), int(number)) for scope, number in rows)
    return numbers
