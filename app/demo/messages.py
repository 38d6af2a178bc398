"""The demo's e-mails: each variant's HTML, with its tracked links and merge fields (no I/O).

Each message is built like a real newsletter: a table layout with inline styles, a remote hero
image and logo, a tracking pixel, the campaign's links in their `position` order (the only web
links of the message, so the click map matches them by URL and by position alike), and merge
fields in both syntaxes users bring: `{{FNAME|there}}` and Mailchimp's `*|CITY|*`, filled per
recipient from the SENT event's `contact.mergeFields` (see `merge_fields`).
"""

from html import escape

from app.demo.plans import CampaignPlan, LinkPlan, VariantPlan

CDN = "https://cdn.northwind-outdoor.example/email"
PIXEL = "https://t.northwind-outdoor.example/o.gif"
GREEN, ORANGE, INK, MUTED = "#1d4d3a", "#e4572e", "#1f2933", "#6b7280"
FONT = "font-family: Arial, Helvetica, sans-serif"
BUTTON = (
    f"display: inline-block; padding: 12px 24px; border-radius: 6px; background: {ORANGE}; "
    "color: #ffffff; font-weight: bold; text-decoration: none"
)
TEXT_LINK = f"color: {GREEN}; font-weight: bold"
TILE = (
    "padding: 14px; border: 1px solid #e5e7eb; border-radius: 6px; background: #f8faf9; "
    "vertical-align: top"
)


def merge_fields(first_name: str, city: str, member_number: int) -> list[dict[str, str]]:
    """A recipient's merge fields, as a SENT event's `contact.mergeFields`."""
    return [
        {"name": "FNAME", "value": first_name},
        {"name": "CITY", "value": city},
        {"name": "MEMBER_ID", "value": f"NW-{member_number:06d}"},
    ]


def message_html(plan: CampaignPlan, variant: VariantPlan) -> str:
    """The variant's message: the same links for every variant, laid out as its content
    factor says (Grid: tiles; Story and the rest: a letter; Countdown: a deadline box)."""
    content = dict(variant.factors).get("content", "")
    first, *others = plan.links
    body = [
        f'<h1 style="margin: 0 0 16px; font-size: 24px; line-height: 30px; color: {INK}">'
        f"{escape(variant.subject)}</h1>",
        '<p style="margin: 0 0 12px">Hi {{FNAME|there}},</p>',
        f'<p style="margin: 0 0 20px">{escape(plan.intro)}</p>',
    ]
    if content == "Countdown":
        body.append(
            f'<p style="margin: 0 0 20px; padding: 12px; border-radius: 6px; background: {INK}; '
            'color: #ffffff; text-align: center; font-size: 18px; font-weight: bold">'
            "Ends tonight at 23:59</p>"
        )
    body.append(f'<p style="margin: 0 0 24px">{_link(first, BUTTON)}</p>')
    body.append(_tiles(others) if content == "Grid" else _list(others))
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
        'bgcolor="#eef2ef"><tr><td align="center" style="padding: 24px 12px">'
        '<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
        f'bgcolor="#ffffff" style="max-width: 600px; {FONT}; font-size: 15px; line-height: 22px; '
        f'color: {INK}">'
        f'<tr><td style="padding: 18px 32px; background: {GREEN}">'
        f'<img src="{CDN}/logo-white.png" alt="Northwind Outdoor" width="160" height="32"></td></tr>'
        f'<tr><td><img src="{CDN}/{plan.external_id}/hero.jpg" alt="{escape(plan.name)}" '
        'width="600" height="200" style="display: block; width: 100%"></td></tr>'
        f'<tr><td style="padding: 28px 32px">{"".join(body)}</td></tr>'
        f'<tr><td style="padding: 16px 32px; background: #f5f5f4; font-size: 12px; '
        f'line-height: 18px; color: {MUTED}">'
        "You get this e-mail as a Northwind member in *|CITY|* (member number {{MEMBER_ID}}). "
        '<a href="*|UNSUB|*" style="color: #6b7280">Unsubscribe</a> · '
        '<a href="mailto:service@northwind-outdoor.example" style="color: #6b7280">'
        "Write to us</a></td></tr></table>"
        f'<img src="{PIXEL}?c={plan.external_id}&amp;v={variant.name}" width="1" height="1" '
        'alt=""></td></tr></table>'
    )


def _link(link: LinkPlan, style: str) -> str:
    return f'<a href="{escape(link.url)}" style="{style}">{escape(link.label)}</a>'


def _list(links: tuple[LinkPlan, ...] | list[LinkPlan]) -> str:
    return "".join(
        f'<p style="margin: 0 0 10px">&rarr; {_link(link, TEXT_LINK)}</p>' for link in links
    )


def _tiles(links: tuple[LinkPlan, ...] | list[LinkPlan]) -> str:
    """The links two by two, each in a tile with a (remote) picture."""
    rows = []
    for start in range(0, len(links), 2):
        cells = "".join(
            f'<td width="50%" style="{TILE}">'
            f'<img src="{CDN}{link.path}.jpg" alt="" width="240" height="120" '
            'style="display: block; width: 100%; margin: 0 0 8px">'
            f"{_link(link, TEXT_LINK)}</td>"
            for link in links[start : start + 2]
        )
        rows.append(f"<tr>{cells}</tr>")
    return (
        '<table role="presentation" width="100%" cellpadding="0" cellspacing="8">'
        + "".join(rows)
        + "</table>"
    )
