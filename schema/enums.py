"""The GraphQL enums, over the Python enums that storage and ingest share."""

from enum import Enum

import strawberry

from app import enums

Role = strawberry.enum(enums.Role)
CampaignStatus = strawberry.enum(enums.CampaignStatus)
Channel = strawberry.enum(enums.Channel)
ResponseType = strawberry.enum(
    enums.ResponseType,
    description="Everything recorded about a recipient of a campaign: tracked email events and manual responses.",
)
ResponseSource = strawberry.enum(enums.ResponseSource)
BounceType = strawberry.enum(enums.BounceType)
BounceCategory = strawberry.enum(
    enums.BounceCategory,
    description="Why a bounce happened; HARD: DOMAIN_NOT_FOUND, USER_NOT_FOUND, INVALID_ADDRESS; the rest are SOFT.",
)
SkipReason = strawberry.enum(
    enums.SkipReason, description="Why a message was not sent or was dropped."
)
RecipientStatus = strawberry.enum(
    enums.RecipientStatus,
    description="The furthest point a recipient reached, for the status chart and recipient filters.",
)
Dimension = strawberry.enum(
    enums.Dimension, description="Dimensions of engagement (opens and clicks)."
)


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


@strawberry.enum
class Granularity(Enum):
    QUARTER_HOUR = "QUARTER_HOUR"
    HOUR = "HOUR"
    DAY = "DAY"


@strawberry.enum
class ABMetric(Enum):
    OPEN_RATE = "OPEN_RATE"
    CLICK_RATE = "CLICK_RATE"
    CLICK_TO_OPEN_RATE = "CLICK_TO_OPEN_RATE"
    CONVERSION_RATE = "CONVERSION_RATE"


@strawberry.enum
class CampaignOrderField(Enum):
    SENT_AT = "SENT_AT"
    CREATED_AT = "CREATED_AT"
    NAME = "NAME"
    OPEN_RATE = "OPEN_RATE"
    CLICK_RATE = "CLICK_RATE"


@strawberry.enum
class RecipientOrderField(Enum):
    NAME = "NAME"
    EMAIL = "EMAIL"
    STATUS = "STATUS"
    DATE = "DATE"
