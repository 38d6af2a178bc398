"""recipients keep the merge fields their message was personalized with (issue 15)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 03:30:00.000000

Placeholder in the chain: filled in by the work on its issue.
"""

from collections.abc import Sequence

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
