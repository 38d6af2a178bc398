"""indexes for the statistics reads: a variant's stats, a timeline's range

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00.000000

- campaign_stats(variant_id): a variant's statistics summed by variant id alone scanned the table.
- timeline_buckets(campaign_id, bucket_start): a timeline's range over all variants, in bucket
  order, without sorting.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_campaign_stats_variant", "campaign_stats", ["variant_id"])
    op.create_index(
        "ix_timeline_buckets_range", "timeline_buckets", ["campaign_id", "bucket_start"]
    )


def downgrade() -> None:
    op.drop_index("ix_timeline_buckets_range", table_name="timeline_buckets")
    op.drop_index("ix_campaign_stats_variant", table_name="campaign_stats")
