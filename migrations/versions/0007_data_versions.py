"""versions of what each write changed, for the response cache (issue 14)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 03:30:00.000000

data_versions holds one row per (organization, scope): scope 0 is the organization as a whole,
any other scope is a campaign id. Every write bumps, in its own transaction, the version of each
campaign it changed and of its organization, and stamps changed_at (app/versions.py). A scope
without a row has version 0. The index on scope serves the SQLite subscription poller, which
asks for campaign ids of every organization at once.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.database

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "data_versions",
        sa.Column(
            "organization_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("scope", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", app.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_data_versions_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("organization_id", "scope", name=op.f("pk_data_versions")),
    )
    op.create_index("ix_data_versions_scope", "data_versions", ["scope"])


def downgrade() -> None:
    op.drop_index("ix_data_versions_scope", table_name="data_versions")
    op.drop_table("data_versions")
