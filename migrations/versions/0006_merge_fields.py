"""recipients keep the merge fields their message was personalized with (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:30:00.000000

recipient_merge_fields holds, per recipient (so per campaign and contact), the list of
{"name", "value"} its message was personalized with, given by addRecipients' ContactInput
.mergeFields or by the contact object of a SENT canonical event; given_at is the SENT event's
time (NULL: from addRecipients), so an older SENT event arriving late does not replace newer
fields. Recipient.preview renders the recipient's variant's html with them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.database import UTCDateTime

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "recipient_merge_fields",
        sa.Column(
            "recipient_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("given_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["recipients.id"],
            name="fk_recipient_merge_fields_recipient_id_recipients",
        ),
        sa.PrimaryKeyConstraint("recipient_id", name="pk_recipient_merge_fields"),
    )


def downgrade() -> None:
    op.drop_table("recipient_merge_fields")
