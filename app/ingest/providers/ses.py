"""Amazon SES event publishing through an SNS topic subscribed over HTTPS.

The SNS message signature is verified (SignatureVersion 1: SHA1withRSA, 2: SHA256withRSA) with the
certificate at SigningCertURL, which must be an https URL on an SNS host; certificates are fetched
once and cached. SubscriptionConfirmation is confirmed by visiting SubscribeURL (an SNS host too).
A Notification's Message is the SES event; its SNS MessageId makes replays no-ops. Message tags
(`campaign`, `contact`, `variant`) arrive in `mail.tags`.
"""

import base64
import binascii
import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from app.enums import BounceCategory, ResponseType, SkipReason
from app.ingest.providers.adapter import (
    Delivery,
    PayloadError,
    ProviderEvent,
    SignatureError,
    UpstreamError,
    WebhookRequest,
    canonical,
    from_iso,
    load_json,
    malformed,
    unmatched,
)
from app.ingest.providers.mapping import (
    SES_BOUNCES,
    SES_COMPLAINT_SUBTYPES,
    SES_EVENTS,
    SES_NOT_COMPLAINTS,
    SES_TOPIC_OPT_IN,
    Outcome,
    status_category,
)

PROVIDER = "ses"
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
T = ResponseType
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
SUBSCRIPTION_FIELDS = (
    "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
)  # fmt: skip
HASHES = {"1": hashes.SHA1, "2": hashes.SHA256}


def check_sns_url(url: Any, name: str) -> str:
    """`url` when it is https on an SNS host (so nothing else is ever fetched); else refused."""
    if not isinstance(url, str):
        raise SignatureError(f"{name} is required")
    parts = urlsplit(url)
    if (
        parts.scheme != "https"
        or parts.username is not None
        or parts.port not in (None, 443)
        or not SNS_HOST.match(parts.hostname or "")
    ):
        raise SignatureError(f"{name} is not an https URL on an SNS host: {url!r}")
    return url


class SnsClient:
    """Fetches SNS signing certificates (once each, cached) and confirms subscriptions."""

    def __init__(self, http: httpx.AsyncClient | None = None) -> None:
        self._certificates: dict[str, x509.Certificate] = {}
        self.http = http  # made on first use; tests put a client with a mock transport here

    def add_certificate(self, url: str, pem: bytes) -> None:
        """Cache a certificate for `url` (tests use a local certificate; no network)."""
        self._certificates[check_sns_url(url, "SigningCertURL")] = x509.load_pem_x509_certificate(
            pem
        )

    async def _get(self, url: str) -> httpx.Response:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        try:
            response = await self.http.get(url)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"could not reach {url}: {exc}") from None
        if response.status_code != 200:
            raise UpstreamError(f"{url} answered {response.status_code}")
        return response

    async def certificate(self, url: Any) -> x509.Certificate:
        url = check_sns_url(url, "SigningCertURL")
        if url not in self._certificates:
            response = await self._get(url)
            try:
                self._certificates[url] = x509.load_pem_x509_certificate(response.content)
            except ValueError:
                raise UpstreamError(f"{url} is not a PEM certificate") from None
        return self._certificates[url]

    async def confirm(self, subscribe_url: Any) -> None:
        await self._get(check_sns_url(subscribe_url, "SubscribeURL"))

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()


def string_to_sign(message: dict[str, Any]) -> bytes:
    """The text SNS signs: "Name\\nvalue\\n" for each signed field present, in this order."""
    names = NOTIFICATION_FIELDS if message.get("Type") == "Notification" else SUBSCRIPTION_FIELDS
    text = "".join(f"{name}\n{message[name]}\n" for name in names if message.get(name) is not None)
    return text.encode()


async def verify(message: dict[str, Any], sns: SnsClient, request: WebhookRequest) -> None:
    """Raise SignatureError unless SNS signed this message."""
    version = str(message.get("SignatureVersion", ""))
    if version not in HASHES:
        raise SignatureError("SignatureVersion must be 1 or 2")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except (binascii.Error, ValueError):
        raise SignatureError("Signature is not base64") from None
    certificate = await sns.certificate(message.get("SigningCertURL"))
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise SignatureError("the signing certificate does not hold an RSA key")
    if not certificate.not_valid_before_utc <= request.now <= certificate.not_valid_after_utc:
        raise SignatureError("the signing certificate is not valid now")
    try:
        key.verify(signature, string_to_sign(message), padding.PKCS1v15(), HASHES[version]())
    except InvalidSignature:
        raise SignatureError("the SNS signature does not match the message") from None


def recipients_of(items: Any) -> list[tuple[str | None, dict[str, Any]]]:
    """(address, details) of each entry of an SES recipients list."""
    found: list[tuple[str | None, dict[str, Any]]] = []
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            found.append((item.get("emailAddress"), item))
        else:
            found.append((item, {}))
    return found


def opted_out_topics(preferences: Any) -> set[str]:
    """The topics a Subscription event's preferences list as OptOut."""
    if not isinstance(preferences, dict):
        return set()
    statuses = preferences.get("topicSubscriptionStatus")
    return {
        str(item.get("topicName"))
        for item in (statuses if isinstance(statuses, list) else [])
        if isinstance(item, dict) and item.get("subscriptionStatus") == "OptOut"
    }


def unsubscribes(subscription: dict[str, Any]) -> bool:
    """Whether a Subscription event is the person unsubscribing: from all, or from a topic they
    were not opted out of before (mapping.py says why a topic counts)."""
    new = subscription.get("newTopicPreferences")
    if isinstance(new, dict) and new.get("unsubscribeAll") is True:
        return True
    return bool(opted_out_topics(new) - opted_out_topics(subscription.get("oldTopicPreferences")))


def normalize(message: dict[str, Any], sns_message_id: str) -> list[ProviderEvent]:
    """An SES event (the SNS Message) as provider events, one per recipient it names."""
    kind = message.get("eventType") or message.get("notificationType")
    if not isinstance(kind, str) or not kind:
        raise PayloadError("the SES event needs eventType (or notificationType)")
    type = SES_EVENTS.get(kind)
    if type is None:  # e.g. "Rendering Failure", or SES's "AmazonSnsSubscriptionSucceeded"
        return [
            unmatched(
                PROVIDER, kind, sns_message_id, message, f"no canonical type for SES {kind!r}"
            )
        ]
    mail = message.get("mail")
    if not isinstance(mail, dict):
        raise PayloadError(f"the SES {kind} event needs its mail object")
    # The event's own object: "bounce" for Bounce, "deliveryDelay", ...; "failure" for a
    # Rendering Failure.
    detail = message.get("failure" if kind == "Rendering Failure" else kind[0].lower() + kind[1:])
    detail = detail if isinstance(detail, dict) else {}
    destination = recipients_of(mail.get("destination"))
    when = detail.get("timestamp") or mail.get("timestamp")
    common: dict[str, Any] = {}
    recipients = destination
    outcome: Outcome | None = None
    if type is T.DELIVERED:
        recipients = recipients_of(detail.get("recipients")) or destination
    elif type is T.DEFERRED:
        recipients = recipients_of(detail.get("delayedRecipients"))
        common["note"] = detail.get("delayType")
    elif type is T.COMPLAINED:
        recipients = recipients_of(detail.get("complainedRecipients"))
        feedback = detail.get("complaintFeedbackType")
        sub_type = detail.get("complaintSubType")
        if isinstance(sub_type, str) and sub_type in SES_COMPLAINT_SUBTYPES:
            # SES did not send (mapping.py): the message's fate, not the person's complaint.
            outcome = SES_COMPLAINT_SUBTYPES[sub_type]
            kind = f"Complaint/{sub_type}"
            type = outcome.type
            recipients = recipients or destination
        elif isinstance(feedback, str) and feedback in SES_NOT_COMPLAINTS:
            return [
                unmatched(PROVIDER, kind, sns_message_id, message, SES_NOT_COMPLAINTS[feedback])
            ]
    elif type is T.DROPPED:
        note = detail.get("errorMessage") if kind == "Rendering Failure" else detail.get("reason")
        common.update(skipReason=SkipReason.OTHER.value, note=note)
    elif type in (T.OPENED, T.CLICKED):
        # SES cannot tell which of several recipients opened: send one recipient per message.
        recipients = destination[:1]
        common.update(userAgent=detail.get("userAgent"), ip=detail.get("ipAddress"))
        if type is T.CLICKED:
            common["url"] = detail.get("link")
    elif type is T.UNSUBSCRIBED:
        if not unsubscribes(detail):
            return [unmatched(PROVIDER, kind, sns_message_id, message, SES_TOPIC_OPT_IN)]
        recipients = destination[:1]
    elif type is T.BOUNCED:
        recipients = recipients_of(detail.get("bouncedRecipients"))
        key = (str(detail.get("bounceType")), detail.get("bounceSubType"))
        outcome = SES_BOUNCES.get(key) or SES_BOUNCES.get((key[0], None))
        if outcome is None:
            return [
                unmatched(
                    PROVIDER,
                    f"Bounce/{key[0]}",
                    sns_message_id,
                    message,
                    f"unknown SES bounceType {key[0]!r}",
                )  # fmt: skip
            ]
        kind = f"Bounce/{key[0]}/{key[1]}"
        type = outcome.type
    if when is None:
        raise PayloadError("the SES event has no timestamp")
    occurred_at = from_iso(when, f"{kind} timestamp")
    if not recipients:
        raise PayloadError(f"the SES {kind} event names no recipient")
    events = []
    for number, (address, details) in enumerate(recipients):
        fields = dict(common)
        if outcome is not None and outcome.type is T.BOUNCED:
            category = outcome.category
            if category is BounceCategory.UNSPECIFIED:  # "General": the status code may say more
                category = (
                    status_category(details.get("status"), details.get("diagnosticCode"))
                    or category
                )
            fields["bounce"] = {
                "type": outcome.bounce_type.value if outcome.bounce_type else None,
                "category": category.value if category else None,
                "diagnostic": details.get("diagnosticCode") or details.get("status"),
            }
        elif outcome is not None and outcome.skip_reason is not None:
            fields.update(skipReason=outcome.skip_reason.value, note=kind)
        elif type is T.DEFERRED and details.get("diagnosticCode"):
            fields["note"] = f"{detail.get('delayType')}: {details['diagnosticCode']}"
        event_id = f"{sns_message_id}:{number}"
        message_id = mail.get("messageId")
        events.append(
            ProviderEvent(
                PROVIDER,
                kind,
                event_id,
                message,
                canonical(
                    event_id=event_id,
                    type=type.value,
                    occurred_at=occurred_at,
                    email=address,
                    metadata=mail.get("tags") if isinstance(mail.get("tags"), dict) else None,
                    **fields,
                ),
                message_id=message_id if isinstance(message_id, str) else None,
            )
        )
    return events


async def receive(request: WebhookRequest, settings: dict[str, Any]) -> Delivery:
    """Verify the SNS message; confirm a subscription, or normalize the SES event it carries."""
    message = load_json(request.body)
    if not isinstance(message, dict) or "Type" not in message or "Signature" not in message:
        raise SignatureError(
            "not a signed SNS message (turn raw message delivery off for this subscription)"
        )
    if request.sns is None:
        raise UpstreamError("SNS verification is not available")
    await verify(message, request.sns, request)
    allowed = settings.get("topic_arns") or []
    if allowed and message.get("TopicArn") not in allowed:
        raise SignatureError(
            f"topic {message.get('TopicArn')!r} is not allowed for this organization"
        )
    kind = message.get("Type")
    if kind == "SubscriptionConfirmation":
        await request.sns.confirm(message.get("SubscribeURL"))
        return Delivery(message=f"subscription to {message.get('TopicArn')} confirmed")
    if kind == "UnsubscribeConfirmation":
        return Delivery(message="unsubscribe confirmation noted; nothing stored")
    if kind != "Notification":
        raise PayloadError(f"unknown SNS message Type {kind!r}")
    sns_message_id = message.get("MessageId")
    if not isinstance(sns_message_id, str) or not sns_message_id or len(sns_message_id) > 100:
        raise PayloadError("MessageId is required")
    # Signed by SNS, so SES's own: a malformed SES event is kept with the reason (and the SNS
    # notification, to be normalized again by a replay), answered 200 so SNS does not retry.
    source = {"Type": kind, "MessageId": sns_message_id, "Message": message.get("Message")}
    event: Any = None
    try:
        event = load_json(str(message.get("Message", "")).encode())
        if not isinstance(event, dict):
            raise PayloadError("the SNS Message must be an SES event (a JSON object)")
        events = normalize(event, sns_message_id)
    except PayloadError as exc:
        raw = event if isinstance(event, dict) else {"Message": message.get("Message")}
        return Delivery(events=[malformed(PROVIDER, raw, str(exc), source)])
    return Delivery(events=[dataclasses.replace(e, source=source) for e in events])
