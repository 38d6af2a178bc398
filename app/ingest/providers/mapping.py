"""How each provider's event kinds and bounce classes map onto canonical types (README, "Providers").

Plain tables, so that the mapping can be read, tested and documented in one place. A kind that is
not in its provider's table has no canonical meaning: the event is kept as unmatched with its raw
payload, never dropped.
"""

import re
from dataclasses import dataclass

from app.enums import BounceCategory, BounceType, ResponseType, SkipReason

T = ResponseType
C = BounceCategory
HARD = BounceType.HARD
SOFT = BounceType.SOFT


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one provider event kind (or bounce class) becomes."""

    type: ResponseType
    bounce_type: BounceType | None = None
    category: BounceCategory | None = None
    skip_reason: SkipReason | None = None


# --- SendGrid: the "event" field; bounce "type" bounce = hard, blocked (or any other) = soft ---
SENDGRID_EVENTS: dict[str, ResponseType] = {
    "processed": T.SENT,
    "delivered": T.DELIVERED,
    "deferred": T.DEFERRED,
    "bounce": T.BOUNCED,
    "dropped": T.DROPPED,
    "open": T.OPENED,
    "click": T.CLICKED,
    "spamreport": T.COMPLAINED,
    "unsubscribe": T.UNSUBSCRIBED,
    "group_unsubscribe": T.UNSUBSCRIBED,
}
SENDGRID_BOUNCE_TYPES: dict[str, BounceType] = {"bounce": HARD, "blocked": SOFT}
# bounce_classification (SendGrid's own grouping of bounce reasons)
SENDGRID_BOUNCE_CLASSES: dict[str, BounceCategory] = {
    "Invalid Address": C.USER_NOT_FOUND,
    "Mailbox Unavailable": C.MAILBOX_FULL,
    "Technical": C.NO_ANSWER,
    "Content": C.SPAM_BLOCKED,
    "Reputation": C.SPAM_BLOCKED,
    "Frequency or Volume": C.SPAM_BLOCKED,
    "Unclassified": C.UNSPECIFIED,
}
# dropped "reason": why SendGrid did not send
SENDGRID_DROP_REASONS: dict[str, SkipReason] = {
    "Bounced Address": SkipReason.PREVIOUSLY_BOUNCED,
    "Unsubscribed Address": SkipReason.UNSUBSCRIBED,
    "Spam Reporting Address": SkipReason.COMPLAINED,
    "Invalid": SkipReason.INVALID_ADDRESS,
}

# --- Mailgun: event-data "event"; failed splits on "severity" and "reason" -------------------
MAILGUN_EVENTS: dict[str, ResponseType] = {
    "accepted": T.SENT,
    "delivered": T.DELIVERED,
    "failed": T.BOUNCED,
    "rejected": T.DROPPED,
    "opened": T.OPENED,
    "clicked": T.CLICKED,
    "complained": T.COMPLAINED,
    "unsubscribed": T.UNSUBSCRIBED,
}
# failed "severity": permanent is Mailgun giving up on the message (a bounce); temporary is one
# failed attempt that Mailgun retries (for up to 8 hours), so the message is DEFERRED until a
# delivery or a permanent failure follows, as SendGrid's "deferred" and SES's DeliveryDelay are.
MAILGUN_SEVERITIES: dict[str, ResponseType] = {"permanent": T.BOUNCED, "temporary": T.DEFERRED}
# A permanent failure with reason "old" ("Too old": Mailgun stopped retrying after its retry
# window, every attempt having failed temporarily) is the end of this message, but says nothing
# against the address: a SOFT bounce (NO_ANSWER), which does not suppress the contact, where
# other permanent failures are HARD.
MAILGUN_SOFT_REASONS = {"old"}
# client-info.bot values that are a person after all. Mailgun documents "apple" (Apple Mail
# Privacy Protection prefetch), "gmail" (Gmail's image proxy) and "generic" (a scanner or
# firewall), empty for none. Gmail's proxy fetches the image when the person opens the message
# (it only hides their IP and agent), so that open is human, as most reporting counts it; any
# other non-empty value is a machine open (or bot click).
MAILGUN_HUMAN_BOTS = {"gmail"}
# A permanent failure for an address Mailgun suppresses: it was never sent (DROPPED).
MAILGUN_SUPPRESSIONS: dict[str, SkipReason] = {
    "suppress-bounce": SkipReason.PREVIOUSLY_BOUNCED,
    "suppress-unsubscribe": SkipReason.UNSUBSCRIBED,
    "suppress-complaint": SkipReason.COMPLAINED,
}

# --- Amazon SES: "eventType" (or "notificationType" of identity notifications) ----------------
SES_EVENTS: dict[str, ResponseType] = {
    "Send": T.SENT,
    "Delivery": T.DELIVERED,
    "DeliveryDelay": T.DEFERRED,
    "Bounce": T.BOUNCED,
    "Reject": T.DROPPED,
    "Open": T.OPENED,
    "Click": T.CLICKED,
    "Complaint": T.COMPLAINED,
    # When newTopicPreferences.unsubscribeAll is true, or when a topic went to OptOut: the person
    # used this message's unsubscribe link or List-Unsubscribe header. A topic opt-out counts as
    # an unsubscribe, as SendGrid's group_unsubscribe does (campaigns here have no topic, and
    # the person did ask, from this message, for less mail); a change that only opts in is kept
    # aside (SES_TOPIC_OPT_IN).
    "Subscription": T.UNSUBSCRIBED,
    # SES did not send: its template could not be rendered (a missing variable). The message's
    # fate, like Postmark's TemplateRenderingFailed: DROPPED (OTHER) with SES's error message.
    "Rendering Failure": T.DROPPED,
}
SES_TOPIC_OPT_IN = "a topic preference change that only opts in: not a response to the campaign"
# complaintFeedbackType "not-spam": the recipient (through their mailbox provider's feedback
# loop) said the message is NOT spam, the opposite of a complaint. Kept aside with this reason
# (its raw payload in unmatched_events), counted nowhere, never suppressing the contact.
SES_NOT_COMPLAINTS: dict[str, str] = {
    "not-spam": "SES complaint with feedback type not-spam: the recipient marked it NOT spam",
}
# complaintSubType "OnAccountSuppressionList": SES accepted the message but did not send it, as
# the address is on the account's suppression list for an earlier complaint. Nothing was
# delivered and the person complained about nothing now: DROPPED with the reason COMPLAINED.
SES_COMPLAINT_SUBTYPES: dict[str, Outcome] = {
    "OnAccountSuppressionList": Outcome(T.DROPPED, skip_reason=SkipReason.COMPLAINED),
}
# (bounceType, bounceSubType) -> outcome; bounceType alone when the subtype is not listed.
SES_BOUNCES: dict[tuple[str, str | None], Outcome] = {
    ("Permanent", None): Outcome(T.BOUNCED, HARD, C.UNSPECIFIED),
    ("Permanent", "General"): Outcome(T.BOUNCED, HARD, C.UNSPECIFIED),
    ("Permanent", "NoEmail"): Outcome(T.BOUNCED, HARD, C.USER_NOT_FOUND),
    # SES did not send: the address is on a suppression list.
    ("Permanent", "Suppressed"): Outcome(T.DROPPED, skip_reason=SkipReason.PREVIOUSLY_BOUNCED),
    ("Permanent", "OnAccountSuppressionList"): Outcome(
        T.DROPPED, skip_reason=SkipReason.PREVIOUSLY_BOUNCED
    ),
    ("Transient", None): Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
    ("Transient", "General"): Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
    ("Transient", "MailboxFull"): Outcome(T.BOUNCED, SOFT, C.MAILBOX_FULL),
    ("Transient", "MessageTooLarge"): Outcome(T.BOUNCED, SOFT, C.MESSAGE_TOO_LARGE),
    ("Transient", "ContentRejected"): Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    ("Transient", "AttachmentRejected"): Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    ("Undetermined", None): Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
}

# --- Postmark: "RecordType"; Bounce records split on "TypeCode" --------------------------------
POSTMARK_RECORDS: dict[str, ResponseType] = {
    "Delivery": T.DELIVERED,
    "Bounce": T.BOUNCED,
    "Open": T.OPENED,
    "Click": T.CLICKED,
    "SpamComplaint": T.COMPLAINED,
    # Only SuppressSending with ManualSuppression (the recipient unsubscribing). A change with
    # SuppressionReason HardBounce or SpamComplaint is kept aside: it is Postmark's own
    # suppression following a Bounce or SpamComplaint record that is the response itself, and
    # counting both would count one bounce twice.
    "SubscriptionChange": T.UNSUBSCRIBED,
}
# Postmark's bounce type table (TypeCode -> outcome). Codes not listed (Subscribe, AutoResponder,
# AddressChange, OpenRelayTest, InboundError) are not deliveries' fates: kept as unmatched.
POSTMARK_BOUNCES: dict[int, Outcome] = {
    1: Outcome(T.BOUNCED, HARD, C.USER_NOT_FOUND),  # HardBounce
    2: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # Transient
    16: Outcome(T.UNSUBSCRIBED),  # Unsubscribe (an unsubscribe request by reply)
    256: Outcome(T.BOUNCED, SOFT, C.NO_ANSWER),  # DnsError
    # SpamNotification: the receiving server accepted the message but filtered it (blocked by
    # the user's rules, or classified spam or bulk): it did not reach the inbox, so a bounce, not
    # a delivery; the address works and the person did not complain, so SOFT, not COMPLAINED.
    512: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    2048: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # Unknown
    4096: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # SoftBounce
    8192: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),  # VirusNotification
    16384: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # ChallengeVerification
    100000: Outcome(T.BOUNCED, HARD, C.INVALID_ADDRESS),  # BadEmailAddress
    100001: Outcome(T.COMPLAINED),  # SpamComplaint
    100002: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),  # ManuallyDeactivated
    100003: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),  # Unconfirmed
    100006: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),  # Blocked (ISP block)
    100007: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),  # SMTPApiError
    100009: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),  # DMARCPolicy
    100010: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),  # TemplateRenderingFailed
}

# --- Brevo (Sendinblue): "event" of transactional and marketing webhooks ----------------------
BREVO_EVENTS: dict[str, Outcome] = {
    # "request": Brevo accepted the message for sending (a later "blocked" or "invalid_email"
    # still says it never left): SENT, as SendGrid's processed.
    "request": Outcome(T.SENT),
    "sent": Outcome(T.SENT),
    "delivered": Outcome(T.DELIVERED),
    # Brevo sends "unique_opened" for the first open and "opened" for later ones: each is one
    # load of the pixel, so both count as opens (the recipient is opened once either way).
    "opened": Outcome(T.OPENED),
    "unique_opened": Outcome(T.OPENED),
    # "Loaded by proxy" (Apple Mail Privacy Protection and the like): the pixel was fetched by a
    # proxy, not by a person reading: machine opens (the adapter sets the flag).
    "proxy_open": Outcome(T.OPENED),
    "unique_proxy_open": Outcome(T.OPENED),
    "click": Outcome(T.CLICKED),
    # A permanent refusal by the recipient's server: the address is bad, suppress it.
    "hard_bounce": Outcome(T.BOUNCED, HARD, C.UNSPECIFIED),
    # A temporary refusal that Brevo stopped retrying: a soft bounce, no suppression.
    "soft_bounce": Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
    # Brevo found the address invalid and did not send (or the ISP said so before): never
    # delivered, and the address will never work: DROPPED with INVALID_ADDRESS.
    "invalid_email": Outcome(T.DROPPED, skip_reason=SkipReason.INVALID_ADDRESS),
    "invalid": Outcome(T.DROPPED, skip_reason=SkipReason.INVALID_ADDRESS),
    # Brevo is still retrying: DEFERRED until a delivery or a bounce follows.
    "deferred": Outcome(T.DEFERRED),
    # Brevo refused to send (the address is on its blocklist: earlier bounce, unsubscribe or
    # complaint; the reason text says which): never sent, DROPPED.
    "blocked": Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),
    # Brevo could not send at all (its own failure, e.g. a template error): DROPPED, as
    # Postmark's TemplateRenderingFailed; nothing is said about the address.
    "error": Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),
    "spam": Outcome(T.COMPLAINED),
    "complaint": Outcome(T.COMPLAINED),
    "unsubscribed": Outcome(T.UNSUBSCRIBED),  # transactional
    "unsubscribe": Outcome(T.UNSUBSCRIBED),  # marketing
}
# Not in the table (kept unmatched with their raw payload): marketing contact events
# (contact_updated, contact_deleted, list_addition), unique coupon sent, SMS events, inbound.
BREVO_PROXY_OPENS = frozenset({"proxy_open", "unique_proxy_open"})

# --- SparkPost: msys.<category>.type; bounces split on bounce_class ---------------------------
SPARKPOST_EVENTS: dict[str, ResponseType] = {
    "injection": T.SENT,
    "delivery": T.DELIVERED,
    "delay": T.DEFERRED,  # SparkPost retries; a delivery or a bounce follows
    "bounce": T.BOUNCED,  # outcome by bounce_class (SPARKPOST_BOUNCE_CLASSES)
    # An asynchronous bounce after SparkPost saw the message accepted: the same bounce_class
    # decides; a bounce after a delivery is the recipient's final fate.
    "out_of_band": T.BOUNCED,
    # SparkPost refused the message by policy (e.g. a suppressed or sandbox-limited
    # recipient) or could not render it: never sent, DROPPED with the reason as the note.
    "policy_rejection": T.DROPPED,
    "generation_failure": T.DROPPED,
    "generation_rejection": T.DROPPED,
    "open": T.OPENED,
    "amp_open": T.OPENED,  # the same open, in the AMP part of the message
    "click": T.CLICKED,
    "amp_click": T.CLICKED,
    "spam_complaint": T.COMPLAINED,  # except feedback type not-spam (SPARKPOST_NOT_COMPLAINTS)
    # The List-Unsubscribe header or a link tagged data-msys-unsubscribe: the recipient's own.
    "list_unsubscribe": T.UNSUBSCRIBED,
    "link_unsubscribe": T.UNSUBSCRIBED,
}
# Not in the table (kept unmatched): "initial_open" and "amp_initial_open" (the pixel at the
# top of the message, loaded by the same open that "open" reports with the bottom pixel:
# counting both would count each open twice); relay, ingest, A/B test and SMS events.
# ARF feedback types that are not a complaint: the recipient said the message is not spam.
SPARKPOST_NOT_COMPLAINTS = frozenset({"not-spam"})
# SparkPost's bounce classification codes (its "Bounce Classification Codes" table) and its
# category for each: Hard, Soft, Block, Admin, Undetermined.
SPARKPOST_BOUNCE_CLASSES: dict[int, Outcome] = {
    # Undetermined: the response could not be classified; soft, an unknown failure must not
    # suppress the address for good.
    1: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
    10: Outcome(T.BOUNCED, HARD, C.USER_NOT_FOUND),  # Invalid Recipient (Hard)
    20: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # Soft Bounce
    21: Outcome(T.BOUNCED, SOFT, C.DOMAIN_NOT_FOUND),  # DNS Failure (Soft: DNS may recover)
    22: Outcome(T.BOUNCED, SOFT, C.MAILBOX_FULL),  # Mailbox Full
    23: Outcome(T.BOUNCED, SOFT, C.MESSAGE_TOO_LARGE),  # Too Large
    24: Outcome(T.BOUNCED, SOFT, C.NO_ANSWER),  # Timeout
    # Admin Failure and Smart Send Suppression: SparkPost's own policy stopped the message
    # (e.g. the address is on its suppression list): never sent, DROPPED.
    25: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),
    26: Outcome(T.DROPPED, skip_reason=SkipReason.OTHER),
    30: Outcome(T.BOUNCED, HARD, C.USER_NOT_FOUND),  # Generic Bounce: No RCPT (Hard)
    40: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # Generic Bounce (Soft)
    # Block: Mail Block, Spam Block, Spam Content, Prohibited Attachment, Relaying Denied. The
    # receiver refused the sender or the content, not the address: soft, SPAM_BLOCKED (a hard
    # bounce would suppress a good address for good).
    50: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    51: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    52: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    53: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    54: Outcome(T.BOUNCED, SOFT, C.SPAM_BLOCKED),
    70: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),  # Transient Failure
    # Unsubscribe (an unsubscribe request by reply): the recipient's own, as Postmark's 16.
    90: Outcome(T.UNSUBSCRIBED),
    # Challenge-Response: the receiver wants the sender verified; soft, as Postmark's 16384.
    100: Outcome(T.BOUNCED, SOFT, C.UNSPECIFIED),
}
# Classes not listed are not a delivery's fate, kept unmatched: 60 Auto-Reply (an out-of-office
# answer; the message was delivered) and 80 Subscribe (a subscribe request by reply).


# --- Enhanced SMTP status codes (RFC 3463), shared by every provider's bounce text ------------
ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
STATUS_CATEGORIES: dict[str, BounceCategory] = {
    "1.1": C.USER_NOT_FOUND,  # bad destination mailbox address
    "1.2": C.DOMAIN_NOT_FOUND,  # bad destination system address
    "1.3": C.INVALID_ADDRESS,  # bad destination mailbox address syntax
    "1.10": C.USER_NOT_FOUND,  # recipient address has null MX
    "2.1": C.USER_NOT_FOUND,  # mailbox disabled
    "2.2": C.MAILBOX_FULL,  # mailbox full
    "3.4": C.MESSAGE_TOO_LARGE,  # message too big for system
    "2.3": C.MESSAGE_TOO_LARGE,  # message length exceeds administrative limit
    "4.1": C.NO_ANSWER,  # no answer from host
    "4.2": C.NO_ANSWER,  # bad connection
    "4.4": C.DOMAIN_NOT_FOUND,  # unable to route
    "4.7": C.NO_ANSWER,  # delivery time expired
    "7.1": C.SPAM_BLOCKED,  # delivery not authorized, message refused
}


def status_category(*texts: object) -> BounceCategory | None:
    """The category an enhanced status code (e.g. "5.1.1") in any of `texts` names, if any."""
    for text in texts:
        if text is None:
            continue
        match = ENHANCED_STATUS.search(str(text))
        if match:
            subject_detail = f"{int(match.group(2))}.{int(match.group(3))}"
            if subject_detail in STATUS_CATEGORIES:
                return STATUS_CATEGORIES[subject_detail]
            if match.group(2) == "7":
                return C.SPAM_BLOCKED  # security or policy status
    return None
