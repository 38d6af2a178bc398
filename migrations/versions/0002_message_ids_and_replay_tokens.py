"""kept events remember their message id; replay tokens keyed by the token alone

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

- unmatched_events.message_id (+ index): an event kept without campaign metadata is applied once
  a recipient records its provider message id.
- seen_tokens: the key was "org:token:digest", so one token with two bodies gave two keys and
  concurrent requests both passed. Now (provider, organization_id, token) is the key and the
  body's digest a column beside it. The table is a replay cache of minutes, so its rows are
  carried over by parsing the old keys (rows that do not parse are dropped).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _seen_tokens(new: bool) -> sa.Table:
    """The seen_tokens table, new or old layout (for create and bulk insert)."""
    columns: list[sa.Column] = [sa.Column("provider", sa.String(length=20), nullable=False)]
    if new:
        columns += [
            sa.Column("organization_id", ID, nullable=False, autoincrement=False),
            sa.Column("token", sa.String(length=200), nullable=False),
            sa.Column("digest", sa.String(length=64), nullable=False),
        ]
        key = ("provider", "organization_id", "token")
    else:
        columns.append(sa.Column("token", sa.String(length=200), nullable=False))
        key = ("provider", "token")
    columns.append(sa.Column("seen_at", app.database.UTCDateTime(timezone=True), nullable=False))
    return sa.Table(
        "seen_tokens",
        sa.MetaData(),
        *columns,
        sa.PrimaryKeyConstraint(*key, name="pk_seen_tokens"),
    )


def _replace_seen_tokens(new: bool) -> list[dict[str, object]]:
    """Drop seen_tokens and create it in the other layout; the old rows, read first."""
    rows = [dict(row._mapping) for row in op.get_bind().execute(_seen_tokens(not new).select())]
    op.drop_index("ix_seen_tokens_seen_at", table_name="seen_tokens")
    op.drop_table("seen_tokens")
    table = _seen_tokens(new)
    table.create(op.get_bind())
    op.create_index("ix_seen_tokens_seen_at", "seen_tokens", ["seen_at"], unique=False)
    return rows


def upgrade() -> None:
    with op.batch_alter_table("unmatched_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=255), nullable=True))
        batch_op.create_index(
            "ix_unmatched_events_message", ["organization_id", "message_id"], unique=False
        )

    carried = []
    for row in _replace_seen_tokens(new=True):
        organization, _, rest = str(row["token"]).partition(":")
        token, _, digest = rest.rpartition(":")
        if organization.isdigit() and token and digest:
            carried.append(
                {
                    "provider": row["provider"],
                    "organization_id": int(organization),
                    "token": token,
                    "digest": digest,
                    "seen_at": row["seen_at"],
                }
            )
    # The first row of a token wins, as the old check let its first body through.
    unique = {(r["provider"], r["organization_id"], r["token"]): r for r in reversed(carried)}
    if unique:
        op.bulk_insert(_seen_tokens(new=True), list(unique.values()))


def downgrade() -> None:
    rows = _replace_seen_tokens(new=False)
    if rows:
        op.bulk_insert(
            _seen_tokens(new=False),
            [
                {
                    "provider": row["provider"],
                    "token": f"{row['organization_id']}:{row['token']}:{row['digest']}",
                    "seen_at": row["seen_at"],
                }
                for row in rows
            ],
        )
    with op.batch_alter_table("unmatched_events", schema=None) as batch_op:
        batch_op.drop_index("ix_unmatched_events_message")
        batch_op.drop_column("message_id")
