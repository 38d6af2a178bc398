"""API keys: made once, stored hashed, each with one organization and one role."""

import hashlib
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.database import sqlite_instant
from app.enums import Role
from app.models import ApiKey, DataVersion, Organization

KEY_PREFIX = "cg_"


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's organization and role."""

    organization_id: int
    role: Role
    key_id: int
    key_prefix: str
    # The organization's time zone, read with the key: the default zone of timelines, known
    # without another statement.
    timezone: str

    def allows(self, needed: Role) -> bool:
        return self.role.allows(needed)

    @property
    def label(self) -> str:
        """How a manual response names who recorded it."""
        return f"api-key:{self.key_prefix}"


def hash_key(key: str) -> str:
    # Keys are 256-bit random strings, so a plain SHA-256 is enough: nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


async def create_key(
    connection: AsyncConnection, organization_id: int, role: Role, name: str | None = None
) -> tuple[int, str]:
    """Store a new key's hash; the key itself is returned once and never again."""
    key = new_key()
    result = await connection.execute(
        insert(ApiKey)
        .values(
            organization_id=organization_id,
            role=role.value,
            prefix=key[:10],
            key_hash=hash_key(key),
            name=name,
            created_at=datetime.now(UTC),
        )
        .returning(ApiKey.id)
    )
    return result.scalar_one(), key


def _usable(key: str) -> bool:
    return key.startswith(KEY_PREFIX) and len(key) <= 200


# Built once: the statement is compiled once and cached by SQLAlchemy, and only bound per call.
_PRINCIPAL_COLUMNS = (
    ApiKey.id,
    ApiKey.organization_id,
    ApiKey.role,
    ApiKey.prefix,
    Organization.timezone,
)
_AUTHENTICATE = (
    select(*_PRINCIPAL_COLUMNS)
    .join(Organization, Organization.id == ApiKey.organization_id)
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)
_versions = DataVersion.__table__
# The key and the versions of some scopes of its organization in one statement: one row per
# version found, or one row with NULL versions when none is.
_AUTHENTICATE_WITH_VERSIONS = (
    select(*_PRINCIPAL_COLUMNS, _versions.c.scope, _versions.c.version, _versions.c.changed_at)
    .join(Organization, Organization.id == ApiKey.organization_id)
    .outerjoin(
        _versions,
        and_(
            _versions.c.organization_id == ApiKey.organization_id,
            _versions.c.scope.in_(bindparam("scopes", expanding=True)),
        ),
    )
    .where(ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None))
)


def _principal(row: Any) -> Principal:
    # By position: the hot path of every request.
    return Principal(row[1], Role(row[2]), row[0], row[3], row[4])


async def authenticate(connection: AsyncConnection, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not _usable(key):
        return None
    row = (await connection.execute(_AUTHENTICATE, {"key_hash": hash_key(key)})).first()
    return None if row is None else _principal(row)


async def authenticate_with_versions(
    connection: AsyncConnection, key: str, campaign_ids: list[int] | None
) -> tuple[Principal, versions.VersionSet] | None:
    """`authenticate` and `versions.read(connection, its organization, campaign_ids)` in one
    statement (a query answered from the cache costs this statement alone)."""
    if not _usable(key):
        return None
    ids = _scoped(campaign_ids)
    rows = (
        await connection.execute(
            _AUTHENTICATE_WITH_VERSIONS,
            {"key_hash": hash_key(key), "scopes": [versions.ORGANIZATION, *(ids or ())]},
        )
    ).all()
    return _with_versions(rows, ids, lambda changed_at: changed_at)


def _scoped(campaign_ids: list[int] | None) -> list[int] | None:
    """The campaigns as versions.read takes them: distinct, ordered, at most
    MAX_CAMPAIGN_SCOPES (beyond, the organization's version alone stands for them)."""
    ids = None if campaign_ids is None else sorted({pk for pk in campaign_ids if pk})
    if ids is not None and len(ids) > versions.MAX_CAMPAIGN_SCOPES:
        ids = None
    return ids


def _with_versions(
    rows: Sequence[Any], ids: list[int] | None, instant: Callable[[Any], datetime | None]
) -> tuple[Principal, versions.VersionSet] | None:
    if not rows:
        return None
    principal = _principal(rows[0])
    found = {
        int(row[5]): versions.Version(int(row[6]), instant(row[7]))
        for row in rows
        if row[5] is not None
    }
    return principal, versions.VersionSet(
        organization_id=principal.organization_id,
        organization=found.get(versions.ORGANIZATION, versions.NEVER),
        campaigns=None if ids is None else {pk: found.get(pk, versions.NEVER) for pk in ids},
    )


# _AUTHENTICATE_WITH_VERSIONS in SQLite's words, for a plain sqlite3 connection (the
# placeholders of the scopes added per call).
_SQLITE_WITH_VERSIONS = (
    "SELECT api_keys.id, api_keys.organization_id, api_keys.role, api_keys.prefix, "
    "organizations.timezone, data_versions.scope, data_versions.version, "
    "data_versions.changed_at FROM api_keys "
    "JOIN organizations ON organizations.id = api_keys.organization_id "
    "LEFT OUTER JOIN data_versions ON data_versions.organization_id = api_keys.organization_id "
    "AND data_versions.scope IN ({scopes}) "
    "WHERE api_keys.key_hash = ? AND api_keys.revoked_at IS NULL"
)


def authenticate_with_versions_now(
    connection: sqlite3.Connection, key: str, campaign_ids: list[int] | None
) -> tuple[Principal, versions.VersionSet] | None:
    """`authenticate_with_versions` on a plain sqlite3 connection, in the event loop: the same
    statement and answer, without the hand-offs to aiosqlite's thread (a cached answer's
    whole cost in the database). Raises sqlite3.Error when the database is busy."""
    if not _usable(key):
        return None
    ids = _scoped(campaign_ids)
    scopes = [versions.ORGANIZATION, *(ids or ())]
    sql = _SQLITE_WITH_VERSIONS.format(scopes=",".join("?" * len(scopes)))
    rows = connection.execute(sql, [*scopes, hash_key(key)]).fetchall()
    return _with_versions(rows, ids, sqlite_instant)


async def key_is_active(connection: AsyncConnection, key_id: int) -> bool:
    """Whether the key still exists unrevoked (a long-lived websocket checks it again)."""
    found = await connection.execute(
        select(ApiKey.id).where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    )
    return found.first() is not None


async def revoke_key(connection: AsyncConnection, key_id: int) -> bool:
    result = await connection.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return bool(result.rowcount)


def bearer_token(authorization: str | None) -> str | None:
    """The key of an `Authorization: Bearer <key>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
