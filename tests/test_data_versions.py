"""Data versions (issue 14): every write moves the version of each campaign it changed and of its
organization, in its own transaction; a refused or no-op write moves nothing; a cached answer
changes after each write.

The write-path tests run a dashboard-like query twice (warming any response cache), write, and
query again: the answer shows the write and the campaign's version moved, another campaign's did
not.
"""

from datetime import UTC, datetime, timedelta

from app import versions
from app.database import Database
from tests.factories import Organization, make_organization

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


async def test_a_bump_moves_the_campaigns_and_the_organization_and_nothing_else(
    database: Database, organization: Organization
) -> None:
    other = await make_organization(database)
    async with database.read() as connection:
        before = await versions.read(connection, organization.id, [101, 102])
    # Nothing written yet: version 0 everywhere, no change time.
    assert before.organization == versions.NEVER
    assert before.campaigns == {101: versions.NEVER, 102: versions.NEVER}
    assert before.changed_at is None

    async with database.write() as connection:
        await versions.bump(connection, organization.id, [102, 101, 101], T0)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [101], T0 + timedelta(seconds=5))
    async with database.read() as connection:
        after = await versions.read(connection, organization.id, [101, 102, 103])
        whole = await versions.read(connection, organization.id, None)
        elsewhere = await versions.read(connection, other.id, [101])

    # 101 written twice (a repeated id in one write counts once), 102 once, 103 never.
    assert after.campaigns == {
        101: versions.Version(2, T0 + timedelta(seconds=5)),
        102: versions.Version(1, T0),
        103: versions.NEVER,
    }
    # The organization moves with every write.
    assert after.organization == versions.Version(2, T0 + timedelta(seconds=5))
    assert after.changed_at == T0 + timedelta(seconds=5)
    assert whole.campaigns is None and whole.organization.number == 2
    assert whole.token != before.token
    # Another organization's rows are its own.
    assert elsewhere.organization == versions.NEVER


async def test_changed_at_never_moves_back_when_a_writer_s_clock_is_behind(
    database: Database, organization: Organization
) -> None:
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [7], T0)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [7], T0 - timedelta(minutes=1))
    async with database.read() as connection:
        read = await versions.read(connection, organization.id, [7])
    assert read.campaigns == {7: versions.Version(2, T0)}


async def test_too_many_campaigns_are_checked_by_the_organization_alone(
    database: Database, organization: Organization
) -> None:
    many = range(1, versions.MAX_CAMPAIGN_SCOPES + 2)
    async with database.write() as connection:
        await versions.bump(connection, organization.id, [5], T0)
    async with database.read() as connection:
        read = await versions.read(connection, organization.id, many)
    assert read.campaigns is None
    assert read.organization == versions.Version(1, T0)
