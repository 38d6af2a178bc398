"""The demo's contacts and their events, drawn from a seeded random generator (no I/O)."""

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.demo.messages import merge_fields
from app.demo.plans import CAMPAIGNS, HORIZON, OWNERS, PRICES, CampaignPlan, VariantPlan
from app.enums import SkipReason

# --- The people: address book, clients, places ---------------------------------------------


@dataclass(frozen=True)
class EmailClient:
    """How a contact reads mail: the agent that fetches the open pixel, the browser that clicks."""

    name: str
    open_agent: str
    click_agent: str
    # Apple Mail Privacy Protection fetches the pixel of every delivered message.
    privacy_protection: bool = False


GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36"
)
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36"
)
IPHONE_MAIL = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
APPLE_MAIL_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
SAFARI_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15"
)
OUTLOOK_DESKTOP = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
EDGE_WINDOWS = CHROME_WINDOWS + " Edg/130.0.0.0"
# Apple's proxy presents a bare agent; link scanners pretend to be a desktop browser.
PRIVACY_PROXY = "Mozilla/5.0"
LINK_SCANNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"

CLIENTS = {
    "gmail_web": EmailClient("Gmail", GMAIL_PROXY, CHROME_WINDOWS),
    "gmail_android": EmailClient("Gmail app", GMAIL_PROXY, CHROME_ANDROID),
    "iphone_mail": EmailClient("iPhone Mail", IPHONE_MAIL, IPHONE_SAFARI, True),
    "apple_mail": EmailClient("Apple Mail", APPLE_MAIL_MAC, SAFARI_MAC, True),
    "outlook_desktop": EmailClient("Outlook", OUTLOOK_DESKTOP, EDGE_WINDOWS),
    "outlook_web": EmailClient("Outlook.com", CHROME_WINDOWS, CHROME_WINDOWS),
}

# (domain, weight, client weights, corporate)
CONSUMER = {"gmail_web": 0.5, "gmail_android": 0.3, "iphone_mail": 0.2}
MICROSOFT = {"outlook_web": 0.6, "iphone_mail": 0.2, "outlook_desktop": 0.2}
APPLE = {"iphone_mail": 0.6, "apple_mail": 0.4}
PROVIDER = {"outlook_desktop": 0.3, "apple_mail": 0.3, "iphone_mail": 0.2, "outlook_web": 0.2}
OFFICE = {"outlook_desktop": 0.7, "iphone_mail": 0.2, "apple_mail": 0.1}
DOMAINS: tuple[tuple[str, float, dict[str, float], bool], ...] = (
    ("gmail.com", 30, CONSUMER, False),
    ("outlook.com", 8, MICROSOFT, False),
    ("hotmail.com", 8, MICROSOFT, False),
    ("live.nl", 3, MICROSOFT, False),
    ("icloud.com", 7, APPLE, False),
    ("me.com", 3, APPLE, False),
    ("ziggo.nl", 5, PROVIDER, False),
    ("kpn.nl", 4, PROVIDER, False),
    ("xs4all.nl", 2, PROVIDER, False),
    ("telenet.be", 3, PROVIDER, False),
    ("gmx.de", 3, PROVIDER, False),
    ("web.de", 2, PROVIDER, False),
    ("orange.fr", 2, PROVIDER, False),
    ("acme-logistics.nl", 3, OFFICE, True),
    ("globex.de", 3, OFFICE, True),
    ("initech.co.uk", 3, OFFICE, True),
    ("umbrella-retail.be", 2, OFFICE, True),
    ("hooli.com", 3, OFFICE, True),
    ("vandelay-industries.com", 2, OFFICE, True),
    ("dunder-mifflin.com", 2, OFFICE, True),
    ("soylent.fr", 1, OFFICE, True),
)
# Misspelt domains: these addresses hard-bounce (DOMAIN_NOT_FOUND) the first time.
TYPO_DOMAINS = ("gmial.com", "hotmial.com", "outlok.com", "icloud.co")
TYPO_SHARE = 0.01

PLACES: dict[str, tuple[float, tuple[str, ...]]] = {
    "NL": (45, ("Amsterdam", "Rotterdam", "Utrecht", "The Hague", "Eindhoven", "Groningen")),
    "BE": (15, ("Brussels", "Antwerp", "Ghent", "Leuven")),
    "DE": (15, ("Berlin", "Hamburg", "Munich", "Cologne", "Düsseldorf")),
    "GB": (10, ("London", "Manchester", "Bristol", "Edinburgh")),
    "FR": (8, ("Paris", "Lyon", "Lille")),
    "US": (7, ("New York", "San Francisco", "Seattle", "Denver")),
}

FIRST_NAMES = (
    "Anna", "Bram", "Chloé", "Daan", "Eva", "Finn", "Fleur", "Hannah", "Jesse", "Julia",
    "Lars", "Lieke", "Lotte", "Luuk", "Maud", "Milan", "Noah", "Nina", "Olivia", "Pieter",
    "Roos", "Sem", "Sophie", "Thijs", "Tess", "Lukas", "Mia", "Jonas", "Léa", "Hugo",
    "Oliver", "Amelia", "James", "Grace", "Liam", "Emily", "Mohamed", "Yara", "Ravi", "Mei",
)  # fmt: skip
LAST_NAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Peeters", "Maes", "Müller", "Schmidt",
    "Schneider", "Fischer", "Smith", "Jones", "Taylor", "Brown", "Martin", "Bernard",
    "Dubois", "Garcia", "Chen", "Patel", "El Amrani", "Yilmaz",
)  # fmt: skip


@dataclass
class DemoContact:
    number: int
    email: str
    name: str
    client: EmailClient
    corporate: bool
    misspelt: bool
    country: str
    city: str
    ip: str
    owner: int | None  # index into OWNERS
    suppressed: SkipReason | None = None


def weighted(rng: random.Random, weights: dict[Any, float]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def address_book(rng: random.Random, size: int) -> list[DemoContact]:
    """Contacts with a name, an email domain, a mail client, a home town and maybe an owner."""
    domain_weights = {domain: weight for domain, weight, _, _ in DOMAINS}
    domain_info = {domain: (clients, corporate) for domain, _, clients, corporate in DOMAINS}
    countries = {country: weight for country, (weight, _) in PLACES.items()}
    contacts = []
    for number in range(1, size + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        domain = weighted(rng, domain_weights)
        clients, corporate = domain_info[domain]
        misspelt = rng.random() < TYPO_SHARE
        if misspelt:
            domain = rng.choice(TYPO_DOMAINS)
        local = f"{first}.{last}".lower().replace(" ", "")
        local = local.translate(str.maketrans("éèü", "eeu"))
        country = weighted(rng, countries)
        # Account managers own business contacts; consumers are owned less often.
        owned = rng.random() < (0.95 if corporate else 0.7)
        contacts.append(
            DemoContact(
                number=number,
                email=f"{local}{number}@{domain}",
                name=f"{first} {last}",
                client=CLIENTS[weighted(rng, clients)],
                corporate=corporate,
                misspelt=misspelt,
                country=country,
                city=rng.choice(PLACES[country][1]),
                ip=f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randrange(1, 255)}",
                owner=rng.randrange(len(OWNERS)) if owned else None,
            )
        )
    return contacts


# --- Events ----------------------------------------------------------------------------------

HARD_BOUNCES = (
    ("USER_NOT_FOUND", "550 5.1.1 The email account that you tried to reach does not exist"),
    ("DOMAIN_NOT_FOUND", "550 5.1.2 Host or domain name not found"),
)
SOFT_BOUNCES = (
    ("MAILBOX_FULL", "452 4.2.2 The email account that you tried to reach is over quota"),
    ("SPAM_BLOCKED", "554 5.7.1 Message rejected because of suspected spam content"),
    ("MESSAGE_TOO_LARGE", "552 5.3.4 Message size exceeds fixed maximum message size"),
    ("NO_ANSWER", "421 4.4.2 Connection timed out"),
)
DROP_REASONS = ("PREVIOUSLY_BOUNCED", "INVALID_ADDRESS", "OTHER")

# Outcomes that every campaign shows at least once, given to its first recipients, so that a
# small demo still has every kind of event.
FIRST_CAMPAIGN_CAST = (
    "buyer", "hard_bounce", "soft_bounce", "dropped", "deferred", "complained",
    "unsubscribed", "clicker",
)  # fmt: skip
LATER_CAMPAIGN_CAST = ("buyer", "clicker")


class EventWriter:
    """Builds the canonical events of one recipient of one campaign."""

    def __init__(
        self,
        rng: random.Random,
        plan: CampaignPlan,
        contact: DemoContact,
        variant: VariantPlan | None,
        send_time: datetime,
        latest: datetime,
    ) -> None:
        self.rng = rng
        self.plan = plan
        self.contact = contact
        self.variant = variant
        self.send_time = send_time
        self.latest = latest
        self.events: list[dict[str, Any]] = []

    def add(self, type: str, at: datetime, **fields: Any) -> None:
        at = min(at, self.latest)
        raw: dict[str, Any] = {
            "id": f"demo-{self.plan.external_id}-{self.contact.number}-{len(self.events) + 1}",
            "type": type,
            "occurredAt": at.isoformat(),
            "campaign": self.plan.external_id,
            "contact": {
                "email": self.contact.email,
                "externalId": f"crm-{self.contact.number:06d}",
                "name": self.contact.name,
            },
        }
        if type == "SENT":
            # What the sender personalized this message with: each recipient's preview.
            first_name = self.contact.name.split(" ", 1)[0]
            raw["contact"]["mergeFields"] = merge_fields(
                first_name, self.contact.city, self.contact.number
            )
        if self.variant is not None:
            raw["variant"] = self.variant.name
        raw.update({name: value for name, value in fields.items() if value is not None})
        self.events.append(raw)

    def place(self) -> dict[str, str]:
        return {"country": self.contact.country, "city": self.contact.city, "ip": self.contact.ip}

    def later(self, start: datetime, low: float, high: float) -> datetime:
        """A moment `low` to `high` seconds after `start`."""
        return start + timedelta(seconds=self.rng.uniform(low, high))

    def engagement_delay(self) -> timedelta:
        """How long after delivery someone reads: mostly within hours, a tail over two days."""
        if self.rng.random() < 0.7:
            hours = min(self.rng.expovariate(1 / 1.5), 12.0)
        else:
            hours = self.rng.uniform(2.0, 44.0)
        return timedelta(hours=hours, seconds=self.rng.uniform(20, 90))

    def not_sent(self, reason: SkipReason) -> None:
        self.add("NOT_SENT", self.send_time - timedelta(minutes=5), skipReason=reason.value)

    def deliver(self, outcome: str | None) -> datetime | None:
        """SENT and what happened next; the delivery moment, or None when it never arrived."""
        rng = self.rng
        self.add("SENT", self.send_time)
        if outcome is None:
            draw = rng.random()
            if self.contact.misspelt:
                outcome = "misspelt"
            elif draw < 0.004:
                outcome = "dropped"
            elif draw < 0.016:
                outcome = "hard_bounce"
            elif draw < 0.028:
                outcome = "soft_bounce"
            elif draw < 0.058:
                outcome = "deferred"
        if outcome == "dropped":
            self.add(
                "DROPPED", self.later(self.send_time, 1, 5), skipReason=rng.choice(DROP_REASONS)
            )
            return None
        if outcome in ("hard_bounce", "misspelt"):
            category, diagnostic = (
                HARD_BOUNCES[1] if outcome == "misspelt" else rng.choice(HARD_BOUNCES)
            )
            bounce = {"type": "HARD", "category": category, "diagnostic": diagnostic}
            self.add("BOUNCED", self.later(self.send_time, 2, 40), bounce=bounce)
            self.contact.suppressed = SkipReason.PREVIOUSLY_BOUNCED
            return None
        if outcome == "soft_bounce":
            category, diagnostic = rng.choice(SOFT_BOUNCES)
            bounce = {"type": "SOFT", "category": category, "diagnostic": diagnostic}
            bounced_at = self.later(self.send_time, 2, 60)
            self.add("BOUNCED", bounced_at, bounce=bounce)
            if rng.random() < 0.6:
                return None
            # The provider retried and the message got through after all.
            delivered_at = self.later(bounced_at, 1800, 4 * 3600)
            self.add("DELIVERED", delivered_at)
            return delivered_at
        if outcome == "deferred":
            deferred_at = self.later(self.send_time, 2, 30)
            self.add("DEFERRED", deferred_at)
            if rng.random() < 0.1:
                return None  # the receiving server is still saying "try again later"
            delivered_at = self.later(deferred_at, 600, 3 * 3600)
            self.add("DELIVERED", delivered_at)
            return delivered_at
        delivered_at = self.later(self.send_time, 1, 20)
        self.add("DELIVERED", delivered_at)
        return delivered_at

    def engage(self, delivered_at: datetime, outcome: str | None) -> None:
        """What a reader did with a delivered message."""
        rng, plan, contact = self.rng, self.plan, self.contact
        variant = self.variant or VariantPlan("", "", ())
        if contact.client.privacy_protection and rng.random() < 0.85:
            # No machine flag: the privacy-proxy rule recognises the proxy's agent by itself
            # (automatedActivity shows it as PRIVACY_PROXY), as it would a provider's event.
            self.add("OPENED", self.later(delivered_at, 30, 900), userAgent=PRIVACY_PROXY)
        if contact.corporate and rng.random() < 0.1:
            # A security gateway follows every link seconds after delivery.
            for link in plan.links:
                self.add(
                    "CLICKED",
                    self.later(delivered_at, 2, 12),
                    url=link.url,
                    userAgent=LINK_SCANNER,
                    bot=True,
                )

        if outcome == "complained" or (outcome is None and rng.random() < 0.0008):
            self.add("COMPLAINED", delivered_at + self.engagement_delay())
            contact.suppressed = SkipReason.COMPLAINED
            return
        forced = outcome in ("buyer", "clicker", "unsubscribed")
        opens = forced or rng.random() < plan.open_rate * variant.open_lift
        if not opens:
            if outcome is None and rng.random() < 0.0005:
                # Unsubscribed from the preference centre without opening this one.
                self.add("UNSUBSCRIBED", delivered_at + self.engagement_delay())
                contact.suppressed = SkipReason.UNSUBSCRIBED
            return

        first_open = delivered_at + self.engagement_delay()
        open_times = [first_open]
        while len(open_times) < 6 and rng.random() < 0.45:
            open_times.append(open_times[-1] + timedelta(hours=rng.expovariate(1 / 4)))
        for moment in open_times:
            if moment <= delivered_at + HORIZON:
                self.add("OPENED", moment, userAgent=contact.client.open_agent, **self.place())

        clicks = outcome in ("buyer", "clicker") or (
            outcome is None and rng.random() < plan.click_to_open * variant.click_lift
        )
        if clicks:
            clicked_at = self.later(first_open, 8, 300)
            links = rng.choices(
                plan.links,
                weights=[link.weight for link in plan.links],
                k=rng.choice((1, 1, 1, 2, 3)),
            )
            for number, link in enumerate(links):
                self.add(
                    "CLICKED",
                    clicked_at + timedelta(seconds=40 * number),
                    url=link.url,
                    userAgent=contact.client.click_agent,
                    **self.place(),
                )
            if outcome == "buyer" or rng.random() < plan.lead_rate:
                lead_at = self.later(clicked_at, 60, 1800)
                self.add("LEAD", lead_at, note="Filled in the form on the landing page")
                if outcome == "buyer" or rng.random() < 0.3:
                    note = "Sales call booked by the account manager"
                    self.add("OPPORTUNITY", self.later(lead_at, 3600, 20 * 3600), note=note)
            if outcome == "buyer" or rng.random() < plan.purchase_rate:
                self.add("PURCHASED", self.later(clicked_at, 120, 3600), amount=rng.choice(PRICES))

        if outcome == "buyer" or rng.random() < plan.respond_rate:
            note = "Replied to the email"
            self.add("RESPONDED", self.later(first_open, 300, 7200), note=note)
        if outcome == "unsubscribed" or (outcome is None and rng.random() < 0.006):
            self.add("UNSUBSCRIBED", self.later(first_open, 20, 600))
            contact.suppressed = SkipReason.UNSUBSCRIBED


def campaign_scripts(
    rng: random.Random,
    plan: CampaignPlan,
    contacts: Sequence[DemoContact],
    size: int,
    sent_at: datetime,
    latest: datetime,
    cast: Sequence[str],
) -> list[list[dict[str, Any]]]:
    """Each recipient's events (raw canonical events) for one campaign, in send order."""
    chosen = rng.sample(list(contacts), size)
    numbers = {contact.number for contact in chosen}
    suppressed = [c for c in contacts if c.suppressed is not None and c.number not in numbers]
    if suppressed and not any(c.suppressed for c in chosen):
        # Make sure the suppression of earlier campaigns shows even in a small demo.
        chosen[-min(3, len(suppressed)) :] = suppressed[:3]
    scripts = []
    remaining_cast = list(cast)
    for index, contact in enumerate(chosen):
        variant = plan.variants[index % len(plan.variants)] if plan.variants else None
        # Sending takes half an hour; the list goes out in order.
        send_time = sent_at + timedelta(seconds=1800 * index / size)
        writer = EventWriter(rng, plan, contact, variant, send_time, latest)
        if contact.suppressed is not None:
            writer.not_sent(contact.suppressed)
        else:
            cast_here = remaining_cast and not contact.misspelt
            outcome = remaining_cast.pop(0) if cast_here else None
            delivered_at = writer.deliver(outcome)
            if delivered_at is not None:
                writer.engage(delivered_at, outcome)
        scripts.append(writer.events)
    return scripts


def recipient_counts(total: int) -> list[int]:
    """How many recipients each campaign gets: its share, the remainder to the last."""
    counts = [round(total * plan.share) for plan in CAMPAIGNS[:-1]]
    return [*counts, total - sum(counts)]
