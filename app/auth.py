"""API keys: made once, stored hashed, each with one organization and one role."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.enums import Role
from app.models import ApiKey, Organization

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


async def authenticate(connection: AsyncConnection, key: str) -> Principal | None:
    """The principal of a valid, unrevoked key; None otherwise."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    row = (
        await connection.execute(
            select(
                ApiKey.id, ApiKey.organization_id, ApiKey.role, ApiKey.prefix, Organization.timezone
            )
            .join(Organization, Organization.id == ApiKey.organization_id)
            .where(ApiKey.key_hash == hash_key(key), ApiKey.revoked_at.is_(None))
        )
    ).first()
    if row is None:
        return None
    return Principal(row.organization_id, Role(row.role), row.id, row.prefix, row.timezone)


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
