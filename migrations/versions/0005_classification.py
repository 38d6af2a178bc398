"""responses keep which rule classified them machine/bot, the rule version, and the sender's flag

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 02:15:00.000000

responses.classified_by names the rule that set an open or click aside (REPORTED,
PRIVACY_PROXY, SCANNER_AGENT, CLICK_BURST; NULL when it counts as a person's),
responses.rule_version the version of the rules that decided (app/ingest/automation.py,
RULE_VERSION), and responses.reported what the event itself said (the provider's or sender's
machine/bot flag; NULL when it said nothing), so `campaign-graph reclassify` can re-apply changed
rules without losing the provider's word.

Existing rows: only the combined flags were kept, so an open with `machine` or a click with `bot`
reads REPORTED, with rule_version NULL (classified before rules were versioned). `campaign-graph
reclassify` infers their real reason and the sender's flag from what the row shows and stamps the
current version. Index (campaign_id, classified_by) serves Campaign.automatedActivity.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as table:
        table.add_column(sa.Column("classified_by", sa.String(length=20), nullable=True))
        table.add_column(sa.Column("rule_version", sa.Integer(), nullable=True))
        table.add_column(sa.Column("reported", sa.Boolean(), nullable=True))
    op.execute(
        "UPDATE responses SET classified_by = 'REPORTED' "
        "WHERE (type = 'OPENED' AND machine) OR (type = 'CLICKED' AND bot)"
    )
    op.create_index(
        "ix_responses_campaign_classified_by", "responses", ["campaign_id", "classified_by"]
    )


def downgrade() -> None:
    op.drop_index("ix_responses_campaign_classified_by", table_name="responses")
    with op.batch_alter_table("responses") as table:
        table.drop_column("reported")
        table.drop_column("rule_version")
        table.drop_column("classified_by")
