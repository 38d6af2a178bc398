"""Why a message bounced."""

import strawberry

from schema.enums import BounceCategory, BounceType


@strawberry.type
class Bounce:
    type: BounceType
    category: BounceCategory
    diagnostic: str | None
