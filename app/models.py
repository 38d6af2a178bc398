"""The tables. Money is kept in integer cents so that sums are exact on every backend.

Aggregate tables key "no variant" and "no owner" as 0 rather than NULL: NULLs are never equal in a
unique key, and the upsert that adds deltas needs one row per key.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.database import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


ID = BigInteger().with_variant(Integer(), "sqlite")  # INTEGER PRIMARY KEY is the rowid on SQLite


class Organization(Base):
    __tablename__ = "organizations"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class User(Base):
    """A sender of campaigns or an owner of contacts."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("organization_id", "email"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    # The first characters of the key, shown in listings so that a key can be recognised.
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    revoked_at: Mapped[datetime | None]


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        UniqueConstraint("organization_id", "external_id"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    external_id: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str | None] = mapped_column(String(300))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    suppression_reason: Mapped[str | None] = mapped_column(String(32))
    suppressed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utc_now)


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("organization_id", "external_id"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    external_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str | None] = mapped_column(String(1000))
    status: Mapped[str] = mapped_column(String(20), default="DRAFT")
    channel: Mapped[str] = mapped_column(String(20), default="EMAIL")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_email: Mapped[str | None] = mapped_column(String(320))
    selection: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    sent_at: Mapped[datetime | None]
    cost_cents: Mapped[int | None] = mapped_column(BigInteger)


class Variant(Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("campaign_id", "name"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(1000))
    html: Mapped[str | None] = mapped_column(Text)
    is_control: Mapped[bool] = mapped_column(Boolean, default=False)
    # [{"name": "subject", "value": "A"}, ...]
    factors: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (UniqueConstraint("campaign_id", "url"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    url: Mapped[str] = mapped_column(String(2000))
    label: Mapped[str | None] = mapped_column(String(500))
    position: Mapped[int | None]


class Recipient(Base):
    """One contact in one campaign, with the state folded from its history."""

    __tablename__ = "recipients"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_recipients_contact_id", "contact_id"),
        Index("ix_recipients_campaign_status", "campaign_id", "status"),
        # The recipient table's name and email orders, paged from the index at any size.
        Index("ix_recipients_campaign_sort_name", "campaign_id", "sort_name", "id"),
        Index("ix_recipients_campaign_sort_email", "campaign_id", "sort_email", "id"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    # The contact's sort keys, copied (app/ingest/recipient_sort.py): lower(name or email), email.
    sort_name: Mapped[str] = mapped_column(String(320), default="", server_default="")
    sort_email: Mapped[str] = mapped_column(String(320), default="", server_default="")
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"))
    # The contact's owner when it became a recipient: owner sections report as it was.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    status: Mapped[str] = mapped_column(String(20), default="QUEUED")
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    bounce_type: Mapped[str | None] = mapped_column(String(8))
    bounce_category: Mapped[str | None] = mapped_column(String(32))
    bounce_diagnostic: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    first_opened_at: Mapped[datetime | None]
    last_opened_at: Mapped[datetime | None]
    opens: Mapped[int] = mapped_column(default=0)
    first_clicked_at: Mapped[datetime | None]
    clicks: Mapped[int] = mapped_column(default=0)
    unsubscribed_at: Mapped[datetime | None]
    latest_response_id: Mapped[int | None] = mapped_column(BigInteger)
    # The provider's message id recorded at send time: webhooks without our metadata match on it.
    message_id: Mapped[str | None] = mapped_column(String(255), index=True)
    # When the latest response happened: the recipient table's DATE order.
    latest_response_at: Mapped[datetime | None]
    # The order-independent summary of its history (app/ingest/fold_state.py), so ingest folds
    # only new events; NULL: folded from the history at the next change, then stored.
    fold: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class RecipientMergeFields(Base):
    """The merge fields one recipient's message was personalized with (issue 15).

    A table of its own rather than a column of recipients: recipients are read whole in many
    places, and the fields (up to 100 names and values) are only read for a preview.
    """

    __tablename__ = "recipient_merge_fields"
    recipient_id: Mapped[int] = mapped_column(
        ForeignKey("recipients.id"), primary_key=True, autoincrement=False
    )
    # [{"name": "FNAME", "value": "Ada"}, ...] in the order given
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # When the SENT event that gave them happened; NULL: given by addRecipients. An earlier
    # SENT event arriving later does not replace a later one's fields.
    given_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class Response(Base):
    """The history: tracked events and manual entries. Deletion is soft and audited."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("organization_id", "event_key"),
        Index("ix_responses_recipient_occurred", "recipient_id", "occurred_at"),
        Index("ix_responses_campaign_occurred", "campaign_id", "occurred_at"),
        Index("ix_responses_contact_occurred", "contact_id", "occurred_at"),
        Index("ix_responses_campaign_classified_by", "campaign_id", "classified_by"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("recipients.id"))
    variant_id: Mapped[int | None] = mapped_column(ForeignKey("variants.id"))
    link_id: Mapped[int | None] = mapped_column(ForeignKey("links.id"))
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utc_now)
    source: Mapped[str] = mapped_column(String(10), default="TRACKED")
    # Provider event id, or a hash of the event: a replay hits the unique key and is a no-op.
    event_key: Mapped[str | None] = mapped_column(String(200))
    provider: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    bounce_type: Mapped[str | None] = mapped_column(String(8))
    bounce_category: Mapped[str | None] = mapped_column(String(32))
    bounce_diagnostic: Mapped[str | None] = mapped_column(String(1000))
    skip_reason: Mapped[str | None] = mapped_column(String(32))
    user_agent: Mapped[str | None] = mapped_column(String(1000))
    ip: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(200))
    email_client: Mapped[str | None] = mapped_column(String(100))
    device: Mapped[str | None] = mapped_column(String(100))
    browser: Mapped[str | None] = mapped_column(String(100))
    os: Mapped[str | None] = mapped_column(String(100))
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    bot: Mapped[bool] = mapped_column(Boolean, default=False)
    # Which rule set this open/click aside (ClassificationReason; NULL: a person's), under which
    # RULE_VERSION (NULL: classified before rules were versioned), and what the event itself said
    # (the provider's or sender's flag; NULL: nothing), kept so `reclassify` can re-apply rules.
    classified_by: Mapped[str | None] = mapped_column(String(20))
    rule_version: Mapped[int | None] = mapped_column(Integer)
    reported: Mapped[bool | None] = mapped_column(Boolean)
    recorded_by: Mapped[str | None] = mapped_column(String(200))
    deleted_at: Mapped[datetime | None]
    deleted_by: Mapped[str | None] = mapped_column(String(200))
    deletion_note: Mapped[str | None] = mapped_column(Text)


class DataVersion(Base):
    """How often, and when last, a write changed a campaign (scope: its id) or anything of an
    organization (scope 0); the response cache and the SQLite subscription poller compare these
    (app/versions.py)."""

    __tablename__ = "data_versions"
    __table_args__ = (Index("ix_data_versions_scope", "scope"),)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    scope: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: the organization
    version: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime]


class UnmatchedEvent(Base):
    """An accepted event whose campaign (or contact) is not known yet; applied when it appears."""

    __tablename__ = "unmatched_events"
    __table_args__ = (
        UniqueConstraint("organization_id", "event_key"),
        Index("ix_unmatched_events_campaign", "organization_id", "campaign_external_id"),
        Index("ix_unmatched_events_message", "organization_id", "message_id"),
    )
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    provider: Mapped[str] = mapped_column(String(20))
    event_key: Mapped[str] = mapped_column(String(200))
    campaign_external_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(default=utc_now)
    applied_at: Mapped[datetime | None]
    # The provider's message id of an event kept without campaign metadata (or of an unknown
    # campaign): once a recipient records that id, the event is applied.
    message_id: Mapped[str | None] = mapped_column(String(255))


class ProviderCredential(Base):
    """A provider's webhook secret for one organization (signing key, public key, basic auth)."""

    __tablename__ = "provider_credentials"
    __table_args__ = (UniqueConstraint("organization_id", "provider"),)
    id: Mapped[int] = mapped_column(ID, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    provider: Mapped[str] = mapped_column(String(20))
    # Provider-specific settings, e.g. {"public_key": "..."} or {"signing_key": "..."}.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)


class SeenToken(Base):
    """Webhook tokens already accepted (Mailgun): a replayed token is refused.

    The token alone is the key (per provider and organization), so of two concurrent requests
    with one token only one can insert it; the digest of the body it came with sits beside it,
    telling a retry (same body) from a replay (another body).
    """

    __tablename__ = "seen_tokens"
    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ID, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(String(200), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)


# --- Pre-aggregated tables: each row is a sum of recipients' contributions. -------------------

STATS_COUNTERS = (
    "recipients",
    "sent",
    "not_sent",
    "delivered",
    "deferred",
    "dropped",
    "bounced",
    "hard_bounced",
    "soft_bounced",
    "opened",
    "opens",
    "clicked",
    "clicks",
    "human_opened",
    "human_clicked",
    "machine_opens",
    "bot_clicks",
    "complained",
    "unsubscribed",
    "responded",
    "leads",
    "opportunities",
    "purchases",
    "revenue_cents",
    "funnel_not_received",
    "funnel_received",
    "funnel_opened",
    "funnel_clicked",
    "funnel_opted_out",
)

TIMELINE_COUNTERS = ("sent", "delivered", "opens", "clicks", "bounced", "unsubscribed")
ENGAGEMENT_COUNTERS = ("opens", "opened", "clicks", "clicked")
LINK_COUNTERS = ("clicks", "clicked")


class CampaignStats(Base):
    __tablename__ = "campaign_stats"
    # A variant's statistics are read by variant id alone (A/B tests, a variant's links).
    __table_args__ = (Index("ix_campaign_stats_variant", "variant_id"),)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: no variant
    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: no owner
    updated_at: Mapped[datetime] = mapped_column(default=utc_now)
    recipients: Mapped[int] = mapped_column(BigInteger, default=0)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    not_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    deferred: Mapped[int] = mapped_column(BigInteger, default=0)
    dropped: Mapped[int] = mapped_column(BigInteger, default=0)
    bounced: Mapped[int] = mapped_column(BigInteger, default=0)
    hard_bounced: Mapped[int] = mapped_column(BigInteger, default=0)
    soft_bounced: Mapped[int] = mapped_column(BigInteger, default=0)
    opened: Mapped[int] = mapped_column(BigInteger, default=0)
    opens: Mapped[int] = mapped_column(BigInteger, default=0)
    clicked: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    human_opened: Mapped[int] = mapped_column(BigInteger, default=0)
    human_clicked: Mapped[int] = mapped_column(BigInteger, default=0)
    machine_opens: Mapped[int] = mapped_column(BigInteger, default=0)
    bot_clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    complained: Mapped[int] = mapped_column(BigInteger, default=0)
    unsubscribed: Mapped[int] = mapped_column(BigInteger, default=0)
    responded: Mapped[int] = mapped_column(BigInteger, default=0)
    leads: Mapped[int] = mapped_column(BigInteger, default=0)
    opportunities: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    funnel_not_received: Mapped[int] = mapped_column(BigInteger, default=0)
    funnel_received: Mapped[int] = mapped_column(BigInteger, default=0)
    funnel_opened: Mapped[int] = mapped_column(BigInteger, default=0)
    funnel_clicked: Mapped[int] = mapped_column(BigInteger, default=0)
    funnel_opted_out: Mapped[int] = mapped_column(BigInteger, default=0)


class TimelineBucket(Base):
    __tablename__ = "timeline_buckets"
    # A timeline reads a time range of all variants' buckets, grouped by bucket.
    __table_args__ = (Index("ix_timeline_buckets_range", "campaign_id", "bucket_start"),)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: no variant
    bucket_start: Mapped[datetime] = mapped_column(primary_key=True)  # 15-minute UTC bucket
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    opens: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    bounced: Mapped[int] = mapped_column(BigInteger, default=0)
    unsubscribed: Mapped[int] = mapped_column(BigInteger, default=0)


class EngagementStats(Base):
    __tablename__ = "engagement_stats"
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)
    opens: Mapped[int] = mapped_column(BigInteger, default=0)
    opened: Mapped[int] = mapped_column(BigInteger, default=0)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    clicked: Mapped[int] = mapped_column(BigInteger, default=0)


class LinkStats(Base):
    __tablename__ = "link_stats"
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id"), primary_key=True)
    variant_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # 0: no variant
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
    clicked: Mapped[int] = mapped_column(BigInteger, default=0)


class LinkClickerStats(Base):
    __tablename__ = "link_clicker_stats"
    __table_args__ = (Index("ix_link_clicker_stats_link_clicks", "link_id", "clicks"),)
    link_id: Mapped[int] = mapped_column(ForeignKey("links.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True)
    clicks: Mapped[int] = mapped_column(BigInteger, default=0)
