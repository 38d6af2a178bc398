"""A realistic newsletter and who clicked what in it: the campaign behind the click-map page test
and docs/click-map.png."""

from typing import Any

from tests.factories import event

SHOP = "https://shop.example"
HERO = f"{SHOP}/spring"
SALE = f"{SHOP}/sale?utm_source=newsletter&utm_campaign=spring"
JACKET = f"{SHOP}/p/rain-jacket"
BOOTS = f"{SHOP}/p/trail-boots"
BOTTLE = f"{SHOP}/p/steel-bottle"
ARTICLE = "https://blog.shop.example/packing-for-spring"
INSTAGRAM = "https://instagram.example/shop"
FACEBOOK = "https://facebook.example/shop"
UNSUBSCRIBE = f"{SHOP}/unsubscribe"
GIFT_CARDS = f"{SHOP}/gift-cards"  # clicked from a forwarded copy: not in this message

BUTTON = (
    "display: inline-block; padding: 12px 28px; border-radius: 4px; background: #0f766e; "
    "color: #ffffff; font-weight: bold; text-decoration: none"
)


def product(name: str, price: str, url: str) -> str:
    return f"""
<td width="33%" valign="top" style="padding: 8px; text-align: center">
  <img src="https://cdn.shop.example/{name.lower().replace(" ", "-")}.jpg" width="160" height="120" alt="{name}">
  <p style="margin: 8px 0 4px; font-weight: bold">{name}</p>
  <p style="margin: 0 0 8px; color: #6b7280">{price}</p>
  <a href="{url}" style="color: #0f766e">Shop now</a>
</td>"""


NEWSLETTER = f"""
<table width="100%" cellpadding="0" cellspacing="0" bgcolor="#f3f4f6"><tr><td align="center">
<table width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff"
  style="font-family: Arial, Helvetica, sans-serif; color: #1f2937; line-height: 1.5">
<tr><td style="padding: 20px 24px; border-bottom: 3px solid #0f766e">
  <strong style="font-size: 20px; color: #0f766e">Trailhead Outfitters</strong>
</td></tr>
<tr><td style="padding: 0">
  <a href="{HERO}"><img src="https://cdn.shop.example/hero-spring.jpg" width="600" height="200"
    alt="Spring on the trail" style="display: block"></a>
</td></tr>
<tr><td style="padding: 24px">
  <h1 style="margin: 0 0 12px; font-size: 26px">Spring sale: 30% off rain gear</h1>
  <p>Hi {{{{first_name|there}}}}, the days are longer and the trails are calling. Everything you
  need for wet spring hikes is 30% off until Sunday.</p>
  <p style="text-align: center; margin: 24px 0"><a href="{SALE}" style="{BUTTON}">Shop the sale</a></p>
</td></tr>
<tr><td style="padding: 0 16px">
  <table width="100%" cellpadding="0" cellspacing="0"><tr>
  {product("Rain jacket", "$89 (was $129)", JACKET)}
  {product("Trail boots", "$119 (was $169)", BOOTS)}
  {product("Steel bottle", "$19 (was $27)", BOTTLE)}
  </tr></table>
</td></tr>
<tr><td style="padding: 24px">
  <h2 style="margin: 0 0 8px; font-size: 18px">From the blog</h2>
  <p style="margin: 0">Layers, snacks and a dry pair of socks: <a href="{ARTICLE}"
  style="color: #0f766e">what our guides pack for spring</a>.</p>
</td></tr>
<tr><td style="padding: 16px 24px; background: #f9fafb; font-size: 12px; color: #6b7280">
  Follow us on <a href="{INSTAGRAM}" style="color: #6b7280">Instagram</a> and
  <a href="{FACEBOOK}" style="color: #6b7280">Facebook</a>.<br>
  You get this e-mail because you signed up at shop.example.
  <a href="{UNSUBSCRIBE}" style="color: #6b7280">Unsubscribe</a>.
  <img src="https://track.shop.example/open.gif?r={{{{id}}}}" width="1" height="1" alt="">
</td></tr>
</table>
</td></tr></table>
"""

# The links in message order, with human clicks and the people who made them.
IN_MESSAGE: list[tuple[str, int, int]] = [
    (HERO, 9, 8),
    (SALE, 24, 18),
    (JACKET, 12, 10),
    (BOOTS, 7, 6),
    (BOTTLE, 3, 3),
    (ARTICLE, 5, 5),
    (INSTAGRAM, 2, 2),
    (FACEBOOK, 0, 0),
    (UNSUBSCRIBE, 1, 1),
]
NOT_IN_MESSAGE: list[tuple[str, int, int]] = [(GIFT_CARDS, 2, 2)]
# A mail security scanner also followed the sale link for 4 recipients: not counted by default.
BOT_CLICKS: list[tuple[str, int]] = [(SALE, 4)]
RECIPIENTS = 40


def campaign_input(external_id: str) -> dict[str, Any]:
    return {
        "externalId": external_id,
        "name": "Spring sale newsletter",
        "variants": [{"name": "A", "html": NEWSLETTER}],
        "links": [{"url": url, "position": n} for n, (url, _, _) in enumerate(IN_MESSAGE, start=1)],
    }


def events(external_id: str) -> list[dict[str, Any]]:
    """Each recipient sent at minute 0; every click at a minute of its own, from minute 30 (no
    two within seconds, so no automation rule takes a person's click for a scanner's)."""
    people = [f"reader{n:02d}@example.com" for n in range(RECIPIENTS)]
    found = [event("SENT", email, external_id, 0, variant="A") for email in people]
    minute = 30
    for url, clicks, clickers in IN_MESSAGE + NOT_IN_MESSAGE:
        for n in range(clicks):
            email = people[n % clickers] if clickers else people[0]
            found.append(event("CLICKED", email, external_id, minute, url=url, variant="A"))
            minute += 7
    for url, clicks in BOT_CLICKS:
        for n in range(clicks):
            found.append(
                event(
                    "CLICKED", people[-1 - n], external_id, minute, url=url, variant="A", bot=True
                )
            )
            minute += 7
    return found
