"""Why a message bounced."""

from typing import Any

import strawberry

from schema.enums import BounceCategory, BounceType


@strawberry.type
class Bounce:
    type: BounceType
    category: BounceCategory
    diagnostic: str | None

    @classmethod
    def from_row(cls, row: Any) -> "Bounce | None":
        """The bounce of a recipient or response row; None when it did not bounce."""
        if not row.bounce_type:
            return None
        return cls(
            type=BounceType(row.bounce_type),
            category=BounceCategory(row.bounce_category or "UNSPECIFIED"),
            diagnostic=row.bounce_diagnostic,
        )
