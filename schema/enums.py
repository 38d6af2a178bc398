"""The GraphQL enums, over the Python enums that storage and ingest share."""

from enum import Enum

import strawberry

from app.enums import (
    ABMetric,
    BounceCategory,
    BounceType,
    CampaignStatus,
    Channel,
    Dimension,
    Granularity,
    RecipientStatus,
    ResponseSource,
    ResponseType,
    Role,
    SkipReason,
)

# strawberry.enum registers the shared Python enums in place, so they stay plain types for mypy.
strawberry.enum(Role)
strawberry.enum(CampaignStatus)
strawberry.enum(Channel)
strawberry.enum(
    ResponseType,
    description="Everything recorded about a recipient of a campaign: tracked email events and manual responses.",
)
strawberry.enum(ResponseSource)
strawberry.enum(BounceType)
strawberry.enum(
    BounceCategory,
    description="Why a bounce happened; HARD: DOMAIN_NOT_FOUND, USER_NOT_FOUND, INVALID_ADDRESS; the rest are SOFT.",
)
strawberry.enum(SkipReason, description="Why a message was not sent or was dropped.")
strawberry.enum(
    RecipientStatus,
    description="The furthest point a recipient reached, for the status chart and recipient filters.",
)
strawberry.enum(Dimension, description="Dimensions of engagement (opens and clicks).")
strawberry.enum(Granularity)
strawberry.enum(ABMetric)


@strawberry.enum(
    description="Why an open or click counts as automated rather than a person's. More values may be added."
)
class ClassificationReason(Enum):
    """The GraphQL face of app.ingest.automation.ClassificationReason (same values)."""

    REPORTED = strawberry.enum_value(
        "REPORTED",
        description="the event or its provider said so (canonical machine/bot field, a provider's machine-open or bot flag)",
    )
    PRIVACY_PROXY = strawberry.enum_value(
        "PRIVACY_PROXY",
        description="a privacy proxy that fetches every image (Apple Mail Privacy Protection: address range or agent)",
    )
    SCANNER_AGENT = strawberry.enum_value(
        "SCANNER_AGENT",
        description="the user agent of a link scanner, security gateway or preview fetcher",
    )
    CLICK_BURST = strawberry.enum_value(
        "CLICK_BURST",
        description="several links clicked within seconds of the message's delivery (or sending)",
    )


__all__ = [
    "ABMetric",
    "BounceCategory",
    "BounceType",
    "CampaignOrderField",
    "CampaignStatus",
    "Channel",
    "ClassificationReason",
    "Dimension",
    "Granularity",
    "RecipientOrderField",
    "RecipientStatus",
    "ResponseSource",
    "ResponseType",
    "Role",
    "SkipReason",
    "SortDirection",
]


@strawberry.enum
class SortDirection(Enum):
    ASC = "ASC"
    DESC = "DESC"


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
