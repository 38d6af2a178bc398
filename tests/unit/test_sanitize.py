"""The sanitizer takes out of stored e-mail HTML everything a browser could run or load from
elsewhere, and keeps the message's layout markup."""

from html.parser import HTMLParser

from app.message_views.sanitize import IMAGE_PLACEHOLDER, sanitize_html


class Elements(HTMLParser):
    """Every element of a page as (tag, attributes), read back with the stdlib parser."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def tags(html: str) -> list[str]:
    return [tag for tag, _ in Elements(html).found]


def attributes(html: str, tag: str) -> list[dict[str, str | None]]:
    return [attrs for name, attrs in Elements(html).found if name == tag]


def test_script_elements_go_with_their_content() -> None:
    cleaned = sanitize_html("<p>Hello<script>alert('x')</script> there</p>")
    assert cleaned == "<p>Hello there</p>"


def test_event_handler_attributes_are_dropped() -> None:
    cleaned = sanitize_html(
        '<body onload="steal()"><p onclick="steal()" onmouseover="steal()">Hi</p>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" onerror="steal()"></body>'
    )
    assert "steal" not in cleaned
    assert attributes(cleaned, "p") == [{}]
    assert attributes(cleaned, "img") == [{"src": "data:image/png;base64,iVBORw0KGgo="}]


def test_javascript_and_other_non_web_links_lose_their_href() -> None:
    cleaned = sanitize_html(
        '<a href="javascript:alert(1)">a</a><a href=" JaVaScRiPt:alert(1)">b</a>'
        '<a href="data:text/html,<script>alert(1)</script>">c</a>'
        '<a href="vbscript:x">d</a><a href="https://shop.example/sale?a=1&amp;b=2">e</a>'
        '<a href="http://shop.example/">f</a><a href="mailto:help@shop.example">g</a>'
    )
    hrefs = [attrs.get("href") for attrs in attributes(cleaned, "a")]
    assert hrefs == [
        None,
        None,
        None,
        None,
        "https://shop.example/sale?a=1&b=2",
        "http://shop.example/",
        "mailto:help@shop.example",
    ]


def test_remote_images_and_tracking_pixels_become_inert_placeholders() -> None:
    cleaned = sanitize_html(
        '<img src="https://cdn.example/hero.jpg" alt="Our spring sale" width="600">'
        '<img src="https://track.example/open.gif?r=42" width="1" height="1">'
        '<img src="//cdn.example/protocol-relative.png"><img src="/relative.png">'
    )
    images = attributes(cleaned, "img")
    assert [image["src"] for image in images] == [IMAGE_PLACEHOLDER] * 4
    assert [image["data-original-src"] for image in images] == [
        "https://cdn.example/hero.jpg",
        "https://track.example/open.gif?r=42",
        "//cdn.example/protocol-relative.png",
        "/relative.png",
    ]
    assert images[0]["alt"] == "Our spring sale" and images[0]["width"] == "600"
    assert images[1]["width"] == "1" and images[1]["height"] == "1"
    assert IMAGE_PLACEHOLDER.startswith("data:image/svg+xml,")


def test_svg_with_script_is_neutralized() -> None:
    cleaned = sanitize_html(
        '<p>Logo</p><svg onload="alert(1)"><script>alert(2)</script>'
        '<a href="javascript:alert(3)"><circle r="4"/></a></svg>'
        '<img src="data:image/svg+xml,<svg onload=alert(4)>">'
    )
    assert "alert" not in cleaned
    assert "svg" not in tags(cleaned) and "script" not in tags(cleaned)
    # An inline SVG image is not trusted either: it becomes the placeholder.
    assert attributes(cleaned, "img")[0]["src"] == IMAGE_PLACEHOLDER


def test_css_urls_are_removed_from_style_attributes_and_style_elements() -> None:
    cleaned = sanitize_html(
        '<td style="color: #333; background: url(https://track.example/bg.png); '
        'background-image: u\\72l(https://track.example/escaped.png); padding: 8px">Hi</td>'
        "<style>@import url(https://track.example/a.css); @import 'https://track.example/b.css';"
        "@font-face { font-family: x; src: url(https://track.example/f.woff) }"
        ".hero { color: red; background-image: url('https://track.example/h.png') }"
        '@media (max-width: 600px) { .col { width: 100% !important; background: image-set("https://track.example/i.png" 1x) } }'
        "</style>"
    )
    assert "track.example" not in cleaned
    cleaned_cell = sanitize_html(
        '<table><tr><td style="color: #333; background: url(https://track.example/bg.png); padding: 8px">Hi</td></tr></table>'
    )
    assert attributes(cleaned_cell, "td") == [{"style": "color: #333; padding: 8px"}]
    sheet = "".join(Elements(cleaned).text)
    assert ".hero { color: red }" in sheet
    assert "@media (max-width: 600px) {\n.col { width: 100% !important }\n}" in sheet
    assert "@import" not in sheet and "@font-face" not in sheet


def test_layout_markup_links_and_click_map_attributes_are_kept() -> None:
    message = (
        '<table width="600" cellpadding="0" cellspacing="0" bgcolor="#ffffff" align="center">'
        '<tbody><tr><td style="padding: 24px; font-family: Arial, sans-serif" valign="top">'
        '<h1 style="color: rgb(20, 20, 20)">Spring sale</h1>'
        '<a href="https://shop.example/sale" data-clicks="12" data-unique-clickers="9" '
        'data-share="0.5" style="color: #0b5cff">Shop now</a>'
        '<span class="cg-click-badge" data-clicks="12">12 clicks</span>'
        "</td></tr></tbody></table>"
    )
    cleaned = sanitize_html(message)
    assert attributes(cleaned, "table") == [
        {
            "width": "600",
            "cellpadding": "0",
            "cellspacing": "0",
            "bgcolor": "#ffffff",
            "align": "center",
        }
    ]
    assert attributes(cleaned, "td") == [
        {"style": "padding: 24px; font-family: Arial, sans-serif", "valign": "top"}
    ]
    assert attributes(cleaned, "h1") == [{"style": "color: rgb(20, 20, 20)"}]
    assert attributes(cleaned, "a") == [
        {
            "href": "https://shop.example/sale",
            "data-clicks": "12",
            "data-unique-clickers": "9",
            "data-share": "0.5",
            "style": "color: #0b5cff",
            "rel": "noopener noreferrer",
        }
    ]
    assert attributes(cleaned, "span") == [{"class": "cg-click-badge", "data-clicks": "12"}]
    assert "".join(Elements(cleaned).text) == "Spring saleShop now12 clicks"


def test_text_that_looks_like_markup_stays_text() -> None:
    cleaned = sanitize_html("<p>5 &lt; 6 &amp; &quot;quoted&quot; &lt;script&gt;</p>")
    assert cleaned == '<p>5 &lt; 6 &amp; "quoted" &lt;script&gt;</p>'
    assert tags(cleaned) == ["p"]


def test_forms_frames_and_document_level_loads_are_dropped() -> None:
    cleaned = sanitize_html(
        '<html><head><title>Newsletter</title><meta http-equiv="refresh" content="0;url=https://x.example">'
        '<link rel="stylesheet" href="https://x.example/a.css"><base href="https://x.example/"></head>'
        '<body><iframe src="https://x.example/frame">inside</iframe>'
        '<form action="https://x.example/post"><input name="q"></form>'
        '<object data="https://x.example/o.swf"></object><p>Hello</p></body></html>'
    )
    assert "x.example" not in cleaned
    assert tags(cleaned) == ["p"]
    assert "".join(Elements(cleaned).text) == "Hello"
