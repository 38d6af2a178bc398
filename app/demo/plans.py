"""The demo's story: an outdoor-gear shop, its people and its five campaigns (no I/O)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

TIMEZONE = "Europe/Amsterdam"
# Engagement of a campaign is drawn within this window after its send.
HORIZON = timedelta(hours=47)
SITE = "https://www.northwind-outdoor.example"


# --- The plan: campaigns, variants, links ---------------------------------------------------


@dataclass(frozen=True)
class VariantPlan:
    name: str
    subject: str
    factors: tuple[tuple[str, str], ...]
    is_control: bool = False
    open_lift: float = 1.0
    click_lift: float = 1.0


@dataclass(frozen=True)
class LinkPlan:
    path: str
    label: str
    weight: float

    @property
    def url(self) -> str:
        return SITE + self.path


@dataclass(frozen=True)
class CampaignPlan:
    external_id: str
    name: str
    subject: str
    project: str
    days_ago: int
    share: float  # of all recipients
    cost_cents: int
    selection: str
    open_rate: float  # human opens among delivered
    click_to_open: float
    respond_rate: float  # replies among human openers
    lead_rate: float  # among clickers
    purchase_rate: float  # among clickers
    links: tuple[LinkPlan, ...]
    # Every campaign has at least one variant: a variant holds the message (its html).
    variants: tuple[VariantPlan, ...]
    intro: str = ""  # the message's first paragraph

    def sent_at(self, today: datetime) -> datetime:
        # 08:00 UTC is 09:00 or 10:00 in Amsterdam: a morning send.
        return today - timedelta(days=self.days_ago) + timedelta(hours=8)


CAMPAIGNS = (
    CampaignPlan(
        external_id="newsletter-trail-stories",
        name="Monthly newsletter: trail stories",
        subject="Trail stories: 5 autumn hikes worth the drive",
        project="Brand & content",
        days_ago=26,
        share=0.24,
        cost_cents=35_000,
        selection="Newsletter subscribers (opted in), NL/BE/DE/GB/FR/US",
        open_rate=0.34,
        click_to_open=0.17,
        respond_rate=0.01,
        lead_rate=0.03,
        purchase_rate=0.05,
        links=(
            LinkPlan("/journal/autumn-hikes", "Read: 5 autumn hikes", 0.45),
            LinkPlan("/shop/new-arrivals", "Shop new arrivals", 0.3),
            LinkPlan("/stores", "Find a store", 0.15),
            LinkPlan("/account/preferences", "Email preferences", 0.1),
        ),
        variants=(
            VariantPlan(
                "Main", "Trail stories: 5 autumn hikes worth the drive", (), is_control=True
            ),
        ),
        intro="The leaves are turning and the trails are quiet. Our staff picked five autumn "
        "hikes within a morning's drive, with where to park and what to pack.",
    ),
    CampaignPlan(
        external_id="webinar-layering-101",
        name="Webinar invitation: layering for cold weather",
        subject="Join our free webinar: layering 101",
        project="Brand & content",
        days_ago=19,
        share=0.15,
        cost_cents=48_000,
        selection="Customers with a jacket purchase in the last 2 years",
        open_rate=0.31,
        click_to_open=0.14,
        respond_rate=0.02,
        lead_rate=0.35,
        purchase_rate=0.0,
        links=(
            LinkPlan("/events/webinar-layering/register", "Save my seat", 0.6),
            LinkPlan("/journal/layering-guide", "Read the layering guide", 0.25),
            LinkPlan("/events", "All events", 0.15),
        ),
        intro="Staying warm is not about the thickest jacket. In 30 minutes our gear experts "
        "show how to layer for wind, rain and frost, with time for your questions.",
        variants=(
            VariantPlan("A", "Join our free webinar: layering 101", (("subject", "Plain"),), True),
            VariantPlan(
                "B",
                "Cold hands? Our experts fix that in 30 minutes",
                (("subject", "Question"),),
                open_lift=1.08,
                click_lift=1.45,
            ),
        ),
    ),
    CampaignPlan(
        external_id="autumn-sale-early-access",
        name="Autumn sale: early access for members",
        subject="Early access: up to 40% off for members",
        project="Sales promotions",
        days_ago=12,
        share=0.29,
        cost_cents=125_000,
        selection="Loyalty members, all countries",
        open_rate=0.38,
        click_to_open=0.22,
        respond_rate=0.005,
        lead_rate=0.02,
        purchase_rate=0.16,
        links=(
            LinkPlan("/sale", "Shop the sale", 0.4),
            LinkPlan("/sale/jackets", "Jackets", 0.25),
            LinkPlan("/sale/footwear", "Footwear", 0.2),
            LinkPlan("/sale/tents", "Tents and sleeping bags", 0.1),
            LinkPlan("/stores", "Find a store", 0.05),
        ),
        intro="As a member you shop the autumn sale two days before everyone else: up to 40% "
        "off jackets, boots, tents and sleeping bags, while every size is still in stock.",
        variants=(
            VariantPlan(
                "A",
                "Early access: up to 40% off for members",
                (("subject", "Discount"), ("content", "Grid")),
                True,
            ),
            VariantPlan(
                "B",
                "Early access: up to 40% off for members",
                (("subject", "Discount"), ("content", "Story")),
                click_lift=1.3,
            ),
            VariantPlan(
                "C",
                "Members only: the autumn sale opens for you first",
                (("subject", "Exclusive"), ("content", "Grid")),
                open_lift=1.12,
            ),
            VariantPlan(
                "D",
                "Members only: the autumn sale opens for you first",
                (("subject", "Exclusive"), ("content", "Story")),
                open_lift=1.12,
                click_lift=1.3,
            ),
        ),
    ),
    CampaignPlan(
        external_id="customer-survey-2026",
        name="Customer satisfaction survey",
        subject="2 minutes, 5 questions: how did we do?",
        project="Brand & content",
        days_ago=7,
        share=0.12,
        cost_cents=12_000,
        selection="Customers with an order in the last 6 months",
        open_rate=0.29,
        click_to_open=0.28,
        respond_rate=0.12,
        lead_rate=0.05,
        purchase_rate=0.01,
        links=(
            LinkPlan("/survey/2026", "Start the survey", 0.75),
            LinkPlan("/survey/2026/prize-draw", "Prize draw terms", 0.1),
            LinkPlan("/help", "Customer service", 0.15),
        ),
        variants=(
            VariantPlan("Main", "2 minutes, 5 questions: how did we do?", (), is_control=True),
        ),
        intro="You ordered from us this year: tell us how it went. Five questions, two "
        "minutes, and every answer enters the draw for a EUR 250 gift card.",
    ),
    CampaignPlan(
        external_id="autumn-sale-last-chance",
        name="Autumn sale: last chance",
        subject="Last chance: the autumn sale ends tonight",
        project="Sales promotions",
        days_ago=3,
        share=0.20,
        cost_cents=80_000,
        selection="Newsletter subscribers who did not buy in the sale",
        open_rate=0.33,
        click_to_open=0.16,
        respond_rate=0.004,
        lead_rate=0.02,
        purchase_rate=0.12,
        links=(
            LinkPlan("/sale", "Shop the sale", 0.55),
            LinkPlan("/sale/bestsellers", "Bestsellers", 0.3),
            LinkPlan("/stores", "Find a store", 0.15),
        ),
        intro="The autumn sale ends tonight. Bestsellers are going fast, but there is still "
        "time to pick up what you had your eye on.",
        variants=(
            VariantPlan(
                "A", "Last chance: the autumn sale ends tonight", (("content", "Banner"),), True
            ),
            VariantPlan(
                "B",
                "Last chance: the autumn sale ends tonight",
                (("content", "Countdown"),),
                click_lift=1.4,
            ),
        ),
    ),
)

PROJECTS = ("Brand & content", "Sales promotions")
OWNERS = (
    ("Sanne de Vries", "sanne.devries@northwind-outdoor.example"),
    ("Daan Jansen", "daan.jansen@northwind-outdoor.example"),
    ("Emma Bakker", "emma.bakker@northwind-outdoor.example"),
    ("Lucas Visser", "lucas.visser@northwind-outdoor.example"),
)
SENDER = ("Northwind Marketing", "marketing@northwind-outdoor.example")
FROM_EMAIL = "news@northwind-outdoor.example"
PRICES = ("24.95", "39.95", "59.00", "89.95", "129.00", "189.00", "249.00", "399.00")
