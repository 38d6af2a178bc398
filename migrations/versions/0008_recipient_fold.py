"""each recipient's folded state, so ingest folds only new events (issue 13)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 03:30:00.000000

recipients.fold holds an order-independent summary of the recipient's non-deleted history (JSON,
app/ingest/fold_state.py): counts, first and last instants with their tie-breaks, the values and
links engaged in, the click-burst rule's instants. Ingest folds only the events a batch inserted
into it. Existing recipients get NULL, which means "fold the history once": the first change to a
recipient reads its history, folds it whole and stores the summary (`campaign-graph reconcile`
checks stored summaries against their history, and with --repair stores them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD/DROP COLUMN (SQLite 3.35+ has both): a batch copy of recipients would drop a table
# that responses reference.
def upgrade() -> None:
    op.add_column("recipients", sa.Column("fold", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("recipients", "fold")
