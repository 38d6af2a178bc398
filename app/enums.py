"""The vocabulary shared by storage, ingest and the GraphQL schema.

Values equal names so that they read the same in the database, in events and in GraphQL.
"""

from enum import Enum


class Role(str, Enum):
    VIEWER = "VIEWER"
    INTEGRATION = "INTEGRATION"
    ADMIN = "ADMIN"

    @property
    def rank(self) -> int:
        return ROLE_RANK[self]

    def allows(self, needed: "Role") -> bool:
        """True when this role may do what `needed` may do."""
        return self.rank >= needed.rank


ROLE_RANK = {Role.VIEWER: 0, Role.INTEGRATION: 1, Role.ADMIN: 2}


class CampaignStatus(str, Enum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    SENDING = "SENDING"
    SENT = "SENT"
    CANCELLED = "CANCELLED"


class Channel(str, Enum):
    EMAIL = "EMAIL"
    EVENT = "EVENT"
    DIRECT_MAIL = "DIRECT_MAIL"
    PHONE = "PHONE"
    OTHER = "OTHER"


class ResponseType(str, Enum):
    SENT = "SENT"
    NOT_SENT = "NOT_SENT"
    DELIVERED = "DELIVERED"
    DEFERRED = "DEFERRED"
    BOUNCED = "BOUNCED"
    DROPPED = "DROPPED"
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    COMPLAINED = "COMPLAINED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    RESPONDED = "RESPONDED"
    LEAD = "LEAD"
    OPPORTUNITY = "OPPORTUNITY"
    PURCHASED = "PURCHASED"


class ResponseSource(str, Enum):
    TRACKED = "TRACKED"
    MANUAL = "MANUAL"
    IMPORT = "IMPORT"


class BounceType(str, Enum):
    HARD = "HARD"
    SOFT = "SOFT"


class BounceCategory(str, Enum):
    DOMAIN_NOT_FOUND = "DOMAIN_NOT_FOUND"
    USER_NOT_FOUND = "USER_NOT_FOUND"
    INVALID_ADDRESS = "INVALID_ADDRESS"
    MAILBOX_FULL = "MAILBOX_FULL"
    SPAM_BLOCKED = "SPAM_BLOCKED"
    NO_ANSWER = "NO_ANSWER"
    MESSAGE_TOO_LARGE = "MESSAGE_TOO_LARGE"
    UNSPECIFIED = "UNSPECIFIED"


HARD_BOUNCE_CATEGORIES = frozenset(
    {BounceCategory.DOMAIN_NOT_FOUND, BounceCategory.USER_NOT_FOUND, BounceCategory.INVALID_ADDRESS}
)


class SkipReason(str, Enum):
    PREVIOUSLY_BOUNCED = "PREVIOUSLY_BOUNCED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    COMPLAINED = "COMPLAINED"
    MISSING_ADDRESS = "MISSING_ADDRESS"
    INVALID_ADDRESS = "INVALID_ADDRESS"
    OTHER = "OTHER"


class RecipientStatus(str, Enum):
    NOT_SENT = "NOT_SENT"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DEFERRED = "DEFERRED"
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    DROPPED = "DROPPED"
    OPENED = "OPENED"
    CLICKED = "CLICKED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    COMPLAINED = "COMPLAINED"


class Dimension(str, Enum):
    COUNTRY = "COUNTRY"
    CITY = "CITY"
    EMAIL_CLIENT = "EMAIL_CLIENT"
    DEVICE = "DEVICE"
    BROWSER = "BROWSER"
    OS = "OS"
    EMAIL_DOMAIN = "EMAIL_DOMAIN"


# The local period a campaign timeline sums its events by.
class Granularity(Enum):
    QUARTER_HOUR = "QUARTER_HOUR"
    HOUR = "HOUR"
    DAY = "DAY"


# The rate an A/B test compares its variants by.
class ABMetric(Enum):
    OPEN_RATE = "OPEN_RATE"
    CLICK_RATE = "CLICK_RATE"
    CLICK_TO_OPEN_RATE = "CLICK_TO_OPEN_RATE"
    CONVERSION_RATE = "CONVERSION_RATE"
