"""Amazon SES through SNS: signed SNS messages carrying SES events, as AWS documents them."""

import base64
import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from app.models import UnmatchedEvent
from tests.factories import BASE_TIME, graphql, make_campaign
from tests.webhook_helpers import (
    ADD_RECIPIENTS,
    configure,
    recipients,
    stats,
    stored,
    unmatched_kinds,
)

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
_now = datetime.now(UTC)
CERTIFICATE_PEM = (
    x509.CertificateBuilder()
    .subject_name(_name)
    .issuer_name(_name)
    .public_key(KEY.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(_now - timedelta(days=1))
    .not_valid_after(_now + timedelta(days=30))
    .sign(KEY, hashes.SHA256())
    .public_bytes(serialization.Encoding.PEM)
)
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
SUBSCRIBE_URL = (
    "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn="
    + TOPIC
    + "&Token=2336412f37fb687f5d51e6e2425c464de12884"
)
_numbers = itertools.count(1)


def at(seconds: float) -> str:
    return (
        (BASE_TIME + timedelta(seconds=seconds))
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def mail(recipient: str, tags: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The `mail` object of an SES event, with our metadata as message tags."""
    return {
        "timestamp": at(0),
        "source": "News <news@example.org>",
        "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.org",
        "sendingAccountId": "123456789012",
        "messageId": f"0102018c-{recipient[:3]}-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": [recipient],
        "headersTruncated": False,
        "headers": [
            {"name": "From", "value": "News <news@example.org>"},
            {"name": "To", "value": recipient},
        ],
        "commonHeaders": {
            "from": ["News <news@example.org>"],
            "to": [recipient],
            "subject": "Spring sale",
        },
        "tags": tags
        if tags is not None
        else {
            "ses:configuration-set": ["campaigns"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["example.org"],
            "campaign": ["spring"],
            "variant": ["A"],
        },
    }


def ses(event_type: str, recipient: str, **detail: Any) -> dict[str, Any]:
    return {"eventType": event_type, "mail": mail(recipient), **detail}


IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
EVENTS = [
    ses("Send", "ann@example.com", send={}),
    ses("Delivery", "ann@example.com", delivery={
        "timestamp": at(2), "processingTimeMillis": 2003, "recipients": ["ann@example.com"],
        "smtpResponse": "250 2.6.0 Message received", "reportingMTA": "a8-70.smtp-out.amazonses.com"}),
    ses("Open", "ann@example.com", open={"ipAddress": "192.0.2.1", "timestamp": at(600), "userAgent": IPHONE}),
    ses("Click", "ann@example.com", click={
        "ipAddress": "192.0.2.1", "timestamp": at(660), "userAgent": IPHONE,
        "link": "https://example.com/pricing", "linkTags": {"section": ["hero"]}}),
    ses("Send", "bob@example.com", send={}),
    ses("Bounce", "bob@example.com", bounce={
        "bounceType": "Permanent", "bounceSubType": "General", "timestamp": at(5),
        "feedbackId": "0102018c-bob-feedback", "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
        "bouncedRecipients": [{"emailAddress": "bob@example.com", "action": "failed", "status": "5.1.1",
                               "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}),
    ses("Send", "cy@example.com", send={}),
    ses("DeliveryDelay", "cy@example.com", deliveryDelay={
        "timestamp": at(60), "delayType": "MailboxFull", "expirationTime": at(86400),
        "delayedRecipients": [{"emailAddress": "cy@example.com", "status": "4.2.2",
                               "diagnosticCode": "smtp; 452 4.2.2 Mailbox full"}]}),
    ses("Bounce", "cy@example.com", bounce={
        "bounceType": "Transient", "bounceSubType": "MailboxFull", "timestamp": at(3600),
        "feedbackId": "0102018c-cy-feedback",
        "bouncedRecipients": [{"emailAddress": "cy@example.com", "action": "failed", "status": "4.2.2",
                               "diagnosticCode": "smtp; 452 4.2.2 Mailbox full"}]}),
    ses("Reject", "dee@example.com", reject={"reason": "Bad content"}),
    ses("Send", "eve@example.com", send={}),
    ses("Delivery", "eve@example.com", delivery={"timestamp": at(3), "recipients": ["eve@example.com"],
                                                 "smtpResponse": "250 OK"}),
    # Apple Mail Privacy Protection: the bare agent from Apple's network (our rule; SES has no flag).
    ses("Open", "eve@example.com", open={"ipAddress": "17.58.100.1", "timestamp": at(30), "userAgent": "Mozilla/5.0"}),
    ses("Complaint", "eve@example.com", complaint={
        "timestamp": at(7200), "feedbackId": "0102018c-eve-complaint", "complaintFeedbackType": "abuse",
        "userAgent": "Yahoo!-Mail-Feedback/2.0", "arrivalDate": at(7000),
        "complainedRecipients": [{"emailAddress": "eve@example.com"}]}),
    ses("Send", "fay@example.com", send={}),
    ses("Delivery", "fay@example.com", delivery={"timestamp": at(4), "recipients": ["fay@example.com"]}),
    ses("Subscription", "fay@example.com", subscription={
        "contactList": "Newsletter", "timestamp": at(900), "source": "UnsubscribeHeader",
        "newTopicPreferences": {"unsubscribeAll": True, "topicSubscriptionStatus": [
            {"topicName": "Offers", "subscriptionStatus": "OptOut"}]},
        "oldTopicPreferences": {"unsubscribeAll": False, "topicSubscriptionStatus": [
            {"topicName": "Offers", "subscriptionStatus": "OptIn"}]}}),
    ses("Bounce", "gus@example.com", bounce={
        "bounceType": "Permanent", "bounceSubType": "OnAccountSuppressionList", "timestamp": at(1),
        "feedbackId": "0102018c-gus-feedback",
        "bouncedRecipients": [{"emailAddress": "gus@example.com", "action": "failed"}]}),
    ses("Rendering Failure", "hal@example.com", failure={
        "templateName": "spring", "errorMessage": "Attribute 'name' is not present in the rendering data."}),
]  # fmt: skip


def sign(message: dict[str, Any], key: rsa.RSAPrivateKey = KEY) -> dict[str, Any]:
    """Sign as SNS does: "Name\\nvalue\\n" for the fields of the message type, in this order."""
    if message["Type"] == "Notification":
        names = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    else:
        names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    text = "".join(f"{n}\n{message[n]}\n" for n in names if n in message)
    digest = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), digest)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(
    event: dict[str, Any], message_id: str | None = None, version: str = "2"
) -> dict[str, Any]:
    return sign(
        {
            "Type": "Notification",
            "MessageId": message_id or f"22b80b92-fdea-4c2c-8f9d-{next(_numbers):012d}",
            "TopicArn": TOPIC,
            "Message": orjson.dumps(event).decode(),
            "Timestamp": at(1),
            "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
            + TOPIC,
        }
    )


class FakeAws:
    """Serves the SNS certificate and subscription confirmations; records every request."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(str(request.url))
        if str(request.url) == CERT_URL:
            return httpx.Response(200, content=CERTIFICATE_PEM)
        if "ConfirmSubscription" in str(request.url):
            return httpx.Response(200, text="<ConfirmSubscriptionResponse/>")
        return httpx.Response(404)


@pytest.fixture
async def aws(app: Any) -> Any:
    fake = FakeAws()
    app.state.sns.http = httpx.AsyncClient(transport=httpx.MockTransport(fake.handle))
    return fake


@pytest.fixture
async def organization_with_ses(database: Any, organization: Any, client: Any, aws: Any) -> Any:
    await configure(database, organization, "ses", {"topic_arns": [TOPIC]})
    await make_campaign(client, organization, "spring")
    return organization


async def post(client: Any, organization: Any, message: Any) -> Any:
    body = message if isinstance(message, bytes) else orjson.dumps(message)
    return await client.post(
        f"/webhooks/ses/{organization.name}",
        content=body,
        headers={
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": "Notification",
        },
    )


EXPECTED = {
    # ann delivered, opened, clicked; bob permanent bounce (5.1.1); cy delayed then transient
    # bounce; dee rejected, gus on the suppression list and hal's template not rendered
    # (dropped); eve delivered, a machine open, a complaint; fay delivered and unsubscribed.
    "recipients": 8, "sent": 8, "notSent": 0, "delivered": 3, "deferred": 0, "dropped": 3,
    "bounced": 2, "hardBounced": 1, "softBounced": 1, "opened": 2, "opens": 2, "clicked": 1,
    "clicks": 1, "complained": 1, "unsubscribed": 1, "machineOpens": 1, "botClicks": 0,
}  # fmt: skip


@pytest.mark.fresh_database
async def test_signed_notifications_become_statistics(
    client, organization_with_ses, database, aws
) -> None:
    messages = [
        notification(event, version="1" if n % 2 else "2") for n, event in enumerate(EVENTS)
    ]
    totals = {"accepted": 0, "duplicates": 0, "unmatched": 0}
    for message in messages:
        response = await post(client, organization_with_ses, message)
        assert response.status_code == 200, response.text
        totals = {k: totals[k] + v for k, v in response.json().items()}
    assert totals == {"accepted": 19, "duplicates": 0, "unmatched": 0}
    assert await stats(client, organization_with_ses) == EXPECTED
    people = await recipients(client, organization_with_ses)
    assert people["bob@example.com"]["bounce"] == {"type": "HARD", "category": "USER_NOT_FOUND"}
    assert people["cy@example.com"]["bounce"] == {"type": "SOFT", "category": "MAILBOX_FULL"}
    assert people["gus@example.com"]["skipReason"] == "PREVIOUSLY_BOUNCED"
    assert people["fay@example.com"]["status"] == "UNSUBSCRIBED"
    # A Rendering Failure is SES not sending: dropped, with SES's error message.
    assert people["hal@example.com"]["status"] == "DROPPED"
    assert people["hal@example.com"]["skipReason"] == "OTHER"
    assert await unmatched_kinds(database) == []
    # The certificate was fetched once, then served from the cache.
    assert aws.requests == [CERT_URL]


async def test_replays_reordered_and_duplicated_change_nothing(
    client, organization_with_ses, database
) -> None:
    messages = [notification(event) for event in EVENTS]
    for message in messages:
        assert (await post(client, organization_with_ses, message)).status_code == 200
    before = await stored(database)
    for message in list(reversed(messages)) + messages[:4]:
        response = await post(client, organization_with_ses, message)
        assert response.json()["accepted"] == 0
        assert response.json()["unmatched"] == 0
    assert await stats(client, organization_with_ses) == EXPECTED
    assert await stored(database) == before


async def test_any_order_gives_the_same_numbers(client, organization_with_ses) -> None:
    for event in reversed(EVENTS):
        assert (await post(client, organization_with_ses, notification(event))).status_code == 200
    assert await stats(client, organization_with_ses) == EXPECTED


def tampered(kind: str) -> dict[str, Any]:
    message = notification(EVENTS[1])
    if kind == "message":
        message["Message"] = message["Message"].replace("ann@example.com", "mallory@example.com")
    elif kind == "timestamp":
        message["Timestamp"] = at(2)
    elif kind == "signature":
        raw = bytearray(base64.b64decode(message["Signature"]))
        raw[10] ^= 1
        message["Signature"] = base64.b64encode(bytes(raw)).decode()
    elif kind == "other key":
        message = sign({**message}, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif kind == "version":
        message["SignatureVersion"] = "3"
    elif kind == "not base64":
        message["Signature"] = "%%%"
    elif kind == "topic":
        message = sign({**message, "TopicArn": "arn:aws:sns:eu-west-1:999999999999:not-ours"})
    elif kind == "raw delivery":
        return EVENTS[1]  # raw message delivery: the SES event without the signed SNS envelope
    else:  # a certificate from elsewhere
        message = sign({**message, "SigningCertURL": kind})
    return message


@pytest.mark.parametrize(
    "kind",
    [
        "message", "timestamp", "signature", "other key", "version", "not base64", "topic",
        "raw delivery", "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
        "http://sns.eu-west-1.amazonaws.com/cert.pem", "https://example.com/sns.eu-west-1.amazonaws.com.pem",
    ],
)  # fmt: skip
async def test_a_tampered_message_is_401_and_stores_nothing(
    client, organization_with_ses, database, aws, kind
) -> None:
    before = await stored(database)
    response = await post(client, organization_with_ses, tampered(kind))
    assert response.status_code == 401, response.text
    assert await stored(database) == before
    # Nothing is ever fetched from a host that is not SNS.
    assert all(url == CERT_URL for url in aws.requests)


async def test_subscription_confirmation_visits_the_subscribe_url(
    client, organization_with_ses, database, aws
) -> None:
    confirmation = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425c464de12884",
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.",
        "SubscribeURL": SUBSCRIBE_URL,
        "Timestamp": at(0),
        "SignatureVersion": "2",
        "SigningCertURL": CERT_URL,
    }
    before = await stored(database)
    response = await post(client, organization_with_ses, sign(confirmation))
    assert response.status_code == 200, response.text
    assert aws.requests == [CERT_URL, SUBSCRIBE_URL]
    # A signed confirmation whose SubscribeURL is elsewhere is refused, and not visited.
    evil = sign(
        {**confirmation, "SubscribeURL": "https://evil.example/?Action=ConfirmSubscription"}
    )
    assert (await post(client, organization_with_ses, evil)).status_code == 401
    assert aws.requests == [CERT_URL, SUBSCRIBE_URL]
    assert await stored(database) == before


async def test_a_malformed_message_is_400(client, organization_with_ses, database) -> None:
    before = await stored(database)
    assert (await post(client, organization_with_ses, b"{nope")).status_code == 400
    assert await stored(database) == before


async def test_a_malformed_ses_event_is_kept_with_its_reason(
    client, organization_with_ses, database
) -> None:
    # Signed by SNS, so SES's own: answered 200 (SNS would retry, then drop it) and kept.
    not_json = sign({**notification(EVENTS[0]), "Message": "not json"})
    no_mail = notification({"eventType": "Send", "send": {}})
    no_recipient = notification(
        {**EVENTS[5], "bounce": {**EVENTS[5]["bounce"], "bouncedRecipients": []}}
    )
    for message, reason in (
        (not_json, "not JSON"),
        (no_mail, "mail"),
        (no_recipient, "no recipient"),
    ):
        response = await post(client, organization_with_ses, message)
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
        async with database.read() as connection:
            kept = (
                await connection.execute(
                    select(UnmatchedEvent.reason)
                    .where(UnmatchedEvent.organization_id == organization_with_ses.id)
                    .order_by(UnmatchedEvent.id.desc())
                )
            ).first()
        assert kept is not None and reason in kept.reason
    assert (await stats(client, organization_with_ses))["recipients"] == 0


async def test_events_without_tags_match_by_message_id(client, organization_with_ses) -> None:
    assert (await post(client, organization_with_ses, notification(EVENTS[0]))).status_code == 200
    untagged = copy.deepcopy(EVENTS[2])
    untagged["mail"]["tags"] = {"ses:configuration-set": ["campaigns"]}
    response = await post(client, organization_with_ses, notification(untagged))
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
    assert (await stats(client, organization_with_ses))["opened"] == 1


@pytest.mark.fresh_database
async def test_ses_test_notification_is_kept_not_refused(
    client, organization_with_ses, database
) -> None:
    # SES posts this once when a topic is attached to an identity: no mail, no canonical type.
    hello = {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": "You have successfully subscribed your Amazon SNS topic to receive notifications.",
    }
    response = await post(client, organization_with_ses, notification(hello))
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
    assert await unmatched_kinds(database) == [("ses", "AmazonSnsSubscriptionSucceeded")]


def untagged(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only Send events (and those of recipients never sent: dee, gus, hal) keep our tags; the
    rest keep SES's own tags and must be matched by mail.messageId."""
    sent = {event["mail"]["destination"][0] for event in events if event["eventType"] == "Send"}
    bare = []
    for event in events:
        event = copy.deepcopy(event)
        if event["eventType"] != "Send" and event["mail"]["destination"][0] in sent:
            event["mail"]["tags"] = {
                name: value
                for name, value in event["mail"]["tags"].items()
                if name.startswith("ses:")
            }
        bare.append(event)
    return bare


@pytest.mark.fresh_database
@pytest.mark.parametrize("order", ["right", "reversed"])
async def test_untagged_events_give_the_same_numbers_in_any_order(
    client, organization_with_ses, database, order
) -> None:
    events = untagged(EVENTS)
    if order == "reversed":
        events.reverse()  # every open, click, bounce and complaint before its Send
    messages = [notification(event) for event in events]
    for message in messages:
        assert (await post(client, organization_with_ses, message)).status_code == 200
    assert await stats(client, organization_with_ses) == EXPECTED
    counts = await stored(database)
    assert counts["responses"] == 19  # every canonical event once
    # Replays (the same SNS messages, any order) are duplicates and change nothing.
    for message in list(reversed(messages)) + messages:
        response = await post(client, organization_with_ses, message)
        assert response.json() == {"accepted": 0, "duplicates": 1, "unmatched": 0}
    assert await stats(client, organization_with_ses) == EXPECTED
    assert await stored(database) == counts


def complaint(recipient: str, **fields: Any) -> dict[str, Any]:
    """A Complaint as SES documents it, with the given feedback type or subtype."""
    return ses("Complaint", recipient, complaint={
        "timestamp": at(7200), "feedbackId": f"0102018c-{recipient[:3]}-complaint",
        "userAgent": "Mozilla/5.0 (compatible; feedback loop)", "arrivalDate": at(7000),
        "complainedRecipients": [{"emailAddress": recipient}], **fields})  # fmt: skip


async def test_a_not_spam_feedback_is_no_complaint(client, organization_with_ses, database) -> None:
    for event in (
        ses("Send", "ivy@example.com", send={}),
        ses("Delivery", "ivy@example.com", delivery={"timestamp": at(2), "recipients": ["ivy@example.com"]}),
    ):  # fmt: skip
        assert (await post(client, organization_with_ses, notification(event))).status_code == 200
    not_spam = complaint("ivy@example.com", complaintFeedbackType="not-spam")
    response = await post(client, organization_with_ses, notification(not_spam))
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
    numbers = await stats(client, organization_with_ses)
    assert (numbers["delivered"], numbers["complained"]) == (1, 0)
    people = await recipients(client, organization_with_ses)
    assert people["ivy@example.com"]["status"] == "DELIVERED"
    # Kept aside with its raw payload and the reason, for anyone to read.
    async with database.read() as connection:
        reason = (
            await connection.execute(
                select(UnmatchedEvent.reason).where(
                    UnmatchedEvent.organization_id == organization_with_ses.id
                )
            )
        ).scalar_one()
    assert "not-spam" in reason
    # Not suppressed: a later campaign may send to ivy.
    summer = await make_campaign(client, organization_with_ses, "summer")
    body = await graphql(
        client, organization_with_ses, ADD_RECIPIENTS,
        {"input": {"campaignId": summer, "contacts": [{"email": "ivy@example.com"}]}},
    )  # fmt: skip
    assert body["data"]["addRecipients"]["added"] == 1


async def test_a_complaint_on_the_suppression_list_is_dropped(
    client, organization_with_ses
) -> None:
    suppressed = complaint("jo@example.com", complaintSubType="OnAccountSuppressionList")
    del suppressed["complaint"]["userAgent"], suppressed["complaint"]["arrivalDate"]
    response = await post(client, organization_with_ses, notification(suppressed))
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
    numbers = await stats(client, organization_with_ses)
    assert (numbers["dropped"], numbers["delivered"], numbers["complained"]) == (1, 0, 0)
    people = await recipients(client, organization_with_ses)
    assert people["jo@example.com"]["status"] == "DROPPED"
    assert people["jo@example.com"]["skipReason"] == "COMPLAINED"


def subscription(recipient: str, old: list[tuple[str, str]], new: list[tuple[str, str]]) -> dict:
    def preferences(topics: list[tuple[str, str]]) -> dict[str, Any]:
        return {"unsubscribeAll": False, "topicSubscriptionStatus": [
            {"topicName": name, "subscriptionStatus": status} for name, status in topics]}  # fmt: skip

    return ses("Subscription", recipient, subscription={
        "contactList": "Newsletter", "timestamp": at(900), "source": "UnsubscribeHeader",
        "newTopicPreferences": preferences(new), "oldTopicPreferences": preferences(old)})  # fmt: skip


async def test_a_topic_opt_out_is_an_unsubscribe_an_opt_in_is_kept_aside(
    client, organization_with_ses
) -> None:
    opt_out = subscription("kim@example.com", [("Offers", "OptIn")], [("Offers", "OptOut")])
    opt_in = subscription("lee@example.com", [("Offers", "OptOut")], [("Offers", "OptIn")])
    response = await post(client, organization_with_ses, notification(opt_out))
    assert response.json() == {"accepted": 1, "duplicates": 0, "unmatched": 0}
    response = await post(client, organization_with_ses, notification(opt_in))
    assert response.json() == {"accepted": 0, "duplicates": 0, "unmatched": 1}
    numbers = await stats(client, organization_with_ses)
    assert (numbers["recipients"], numbers["unsubscribed"]) == (1, 1)
