"""Drawing counts on a message: which anchor gets which link's numbers (by URL, then by
position), zeros for links nobody clicked, clicked links not in the message listed at the end."""

from html.parser import HTMLParser

from app.message_views.click_map import LinkCount, click_map, match_links
from app.message_views.sanitize import sanitize_html

SHOP, SALE, BLOG = "https://shop.example/", "https://shop.example/sale", "https://blog.example/"


class Marked(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.anchors: list[tuple[str | None, str | None, str | None]] = []
        self.badges: list[str] = []
        self.unmatched: list[str | None] = []
        self.in_badge = self.in_unmatched = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "div" and found.get("class") == "cg-unmatched-clicks":
            self.in_unmatched = True
        elif tag == "a" and self.in_unmatched:
            self.unmatched.append(found.get("href"))
        elif tag == "a":
            self.anchors.append(
                (found.get("href"), found.get("data-link-position"), found.get("data-clicks"))
            )
        elif tag == "span" and found.get("class") == "cg-click-badge":
            self.in_badge = True
            self.badges.append("")

    def handle_endtag(self, tag: str) -> None:
        self.in_badge = self.in_badge and tag != "span"

    def handle_data(self, data: str) -> None:
        if self.in_badge:
            self.badges[-1] += data


def link(url: str, position: int | None, clicks: int, clicked: int, total: int = 10) -> LinkCount:
    return LinkCount(url, position, clicks, clicked, clicks / total if total else None)


def test_links_match_by_url_first_then_by_position() -> None:
    shop, sale = link(SHOP, 2, 4, 3), link(SALE, 1, 5, 4)
    # The 3rd anchor's href carries a merge field: the link at position 3 stands for it.
    personal = link("https://shop.example/account", 3, 1, 1)
    hrefs = [SHOP, SALE, "https://shop.example/account?u={{id}}", BLOG]
    assert match_links(hrefs, [shop, sale, personal]) == [shop, sale, personal, None]


def test_a_position_never_takes_an_anchor_matched_by_url() -> None:
    shop = link(SHOP, 1, 4, 3)
    moved = link(SALE, 1, 2, 2)  # says position 1, but anchor 1 is SHOP's by URL
    assert match_links([SHOP], [shop, moved]) == [shop]
    html = f'<a href="{SHOP}">Shop</a>'
    assert Marked(click_map(html, [shop, moved])).unmatched == [SALE]


def test_every_web_link_is_marked_and_unclicked_ones_show_zero() -> None:
    html = (
        f'<p><a href="{SHOP}">Shop</a> <a href="{SHOP}">again</a> <a href="{BLOG}">Blog</a> '
        '<a href="mailto:help@shop.example">Help</a> <a href="#top">Top</a></p>'
    )
    marked = Marked(click_map(html, [link(SHOP, 1, 6, 5), link(BLOG, 2, 0, 0)]))
    # Two anchors of one URL: tracking cannot tell them apart, both show the link's numbers.
    assert marked.anchors == [
        (SHOP, "1", "6"),
        (SHOP, "2", "6"),
        (BLOG, "3", "0"),
        ("mailto:help@shop.example", None, None),
        ("#top", None, None),
    ]
    assert marked.badges == [
        "6 clicks · 5 people · 60.0%",
        "6 clicks · 5 people · 60.0%",
        "0 clicks · 0 people · 0.0%",
    ]


def test_a_link_with_no_tracked_row_shows_zero_without_a_share() -> None:
    marked = Marked(click_map(f'<a href="{BLOG}">Blog</a>', []))
    assert marked.anchors == [(BLOG, "1", "0")] and marked.badges == ["0 clicks · 0 people"]


def test_only_clicked_links_outside_the_message_are_listed() -> None:
    html = f'<a href="{SHOP}">Shop</a>'
    odd = "https://elsewhere.example/?q=<b>&x=1"
    links = [link(SHOP, 1, 1, 1), link(odd, None, 2, 1), link(BLOG, None, 0, 0)]
    marked = Marked(click_map(html, links))
    assert marked.unmatched == [odd]
    assert marked.badges == ["1 click · 1 person · 10.0%", "2 clicks · 1 person · 20.0%"]
    assert "<b>" not in click_map(html, links)


def test_the_click_map_is_sanitized_and_sanitizing_twice_changes_nothing() -> None:
    html = (
        f'<a href="{SHOP}" onclick="x()"><img src="https://cdn.example/a.png"></a>'
        "<style>.a { background: url(https://t.example/a.png); color: red }</style>"
        '<a href="javascript:alert(1)">bad</a><script>alert(2)</script>'
    )
    marked_html = click_map(html, [link(SHOP, 1, 1, 1)])
    assert "onclick" not in marked_html and "alert" not in marked_html
    assert "t.example" not in marked_html and ".a { color: red }" in marked_html
    assert sanitize_html(marked_html) == marked_html
    once = sanitize_html(html)
    assert sanitize_html(once) == once


class Chips(HTMLParser):
    """The merge-field chips of a click map: (title, text)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.chips: list[tuple[str | None, str]] = []
        self.in_chip = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "span" and found.get("class") == "cg-merge-field":
            self.in_chip = True
            self.chips.append((found.get("title"), ""))

    def handle_endtag(self, tag: str) -> None:
        self.in_chip = self.in_chip and tag != "span"

    def handle_data(self, data: str) -> None:
        if self.in_chip:
            title, text = self.chips[-1]
            self.chips[-1] = (title, text + data)


def test_placeholders_in_the_text_show_as_chips_and_in_attributes_stay() -> None:
    html = (
        f'<p title="{{{{FNAME}}}}">Hi {{{{ FNAME|there }}}} &amp; *|CITY|* &lt;3</p>'
        f'<a href="{SHOP}?u={{{{id}}}}">Your {{{{{{plan}}}}}}</a>'
    )
    marked_html = click_map(html, [link(SHOP, 1, 1, 1)])
    assert Chips(marked_html).chips == [
        ("{{ FNAME|there }}", "FNAME"),
        ("*|CITY|*", "CITY"),
        ("{{{plan}}}", "plan"),
    ]
    # Written as it is in attributes; the text around the chips is kept, escaped.
    assert 'title="{{FNAME}}"' in marked_html and f'href="{SHOP}?u={{{{id}}}}"' in marked_html
    assert " &amp; " in marked_html and " &lt;3</p>" in marked_html
    assert sanitize_html(marked_html) == marked_html


class Colours(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.colours: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("class") == "cg-click-badge":
            self.colours.append(str(found["style"]).rsplit("background: ", 1)[1])


def test_badge_colours_compare_each_link_with_the_most_clicked_one() -> None:
    # Shares divide by the whole campaign's clicks and may all be small: colours do not use them.
    urls = [f"https://shop.example/{n}" for n in range(6)]
    html = "".join(f'<a href="{url}">{n}</a>' for n, url in enumerate(urls))
    counts = [40, 20, 19, 8, 7, 0]  # of 40: half or more red, a fifth or more orange, then amber
    links = [
        link(url, None, clicks, clicks, total=1000)
        for url, clicks in zip(urls, counts, strict=True)
    ]
    assert Colours(click_map(html, links)).colours == [
        "#b91c1c",
        "#b91c1c",
        "#ea580c",
        "#ea580c",
        "#d97706",
        "#6b7280",
    ]
