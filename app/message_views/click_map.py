"""The click map: a message's HTML with each tracked link marked by its clicks (pure, no I/O).

Links are matched to the message's anchors by URL first; a link whose URL is on no anchor (the
message's href carries a merge field, say) takes the anchor at its position (the n-th web link of
the message, 1 = first). Every web link of the message gets a badge, 0 when nobody clicked it;
clicked links matched to no anchor are listed in a section at the end. The message is the
variant's template: a merge-field placeholder in its text shows as a small chip with the field's
name (one in an attribute, such as an href, stays as written).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser

from app.message_views.merge_fields import PLACEHOLDER, placeholder_parts
from app.message_views.sanitize import sanitize_html, start_tag

BADGE_CLASS = "cg-click-badge"
FIELD_CLASS = "cg-merge-field"
FIELD_STYLE = (
    "display: inline-block; padding: 0 5px; border: 1px dashed #6b7280; border-radius: 4px; "
    "font: 12px/16px Menlo, Consolas, monospace; color: #374151; background: #f3f4f6"
)
UNMATCHED_CLASS = "cg-unmatched-clicks"
WEB_SCHEMES = ("http:", "https:")
BADGE_STYLE = (
    "display: inline-block; margin: 0 0 0 6px; padding: 1px 7px; border-radius: 9px; "
    "font: bold 11px/16px Arial, Helvetica, sans-serif; white-space: nowrap; "
    "vertical-align: middle; text-decoration: none; color: #ffffff; background: {background}"
)
SECTION_STYLE = (
    "margin: 24px auto; max-width: 600px; padding: 12px 16px; border: 1px dashed #9ca3af; "
    "border-radius: 6px; font: 13px/20px Arial, Helvetica, sans-serif; color: #374151; "
    "background: #f9fafb"
)


@dataclass(frozen=True, slots=True)
class LinkCount:
    """One tracked link of the campaign with its counts (for the variant and kind of click)."""

    url: str
    position: int | None
    clicks: int
    clicked: int
    share: float | None
    link_id: str | None = None  # its global id


ZERO = LinkCount(url="", position=None, clicks=0, clicked=0, share=None)


def web_anchor_hrefs(html: str) -> list[str]:
    """The href of each web link (http or https) of the sanitized `html`, in order."""
    reader = _AnchorReader()
    reader.feed(html)
    reader.close()
    return reader.hrefs


def match_links(hrefs: Sequence[str], links: Sequence[LinkCount]) -> list[LinkCount | None]:
    """The link each anchor stands for (None: no tracked link), by URL, then by position."""
    by_url = {link.url.strip(): link for link in links}
    matched: list[LinkCount | None] = [by_url.get(href.strip()) for href in hrefs]
    used = {id(link) for link in matched if link is not None}
    for link in links:
        if id(link) in used or link.position is None or not 1 <= link.position <= len(hrefs):
            continue
        if matched[link.position - 1] is None:
            matched[link.position - 1] = link
            used.add(id(link))
    return matched


def click_map(html: str, links: Sequence[LinkCount]) -> str:
    """The message marked with its links' counts, sanitized."""
    clean = sanitize_html(html)
    matched = match_links(web_anchor_hrefs(clean), links)
    most = max((link.clicks for link in links), default=0)
    writer = _BadgeWriter(matched, most)
    writer.feed(clean)
    writer.close()
    used = {id(link) for link in matched if link is not None}
    unmatched = [link for link in links if id(link) not in used and link.clicks > 0]
    return sanitize_html(writer.output() + _unmatched_section(unmatched, most))


def badge(link: LinkCount, most: int) -> str:
    """The small element placed right after a link: clicks, unique clickers, share; its colour
    says how the link's clicks compare with the most clicked link's (`most`)."""
    share = "" if link.share is None else f" · {link.share * 100:.1f}%"
    text = f"{_plural(link.clicks, 'click')} · {_plural(link.clicked, 'person', 'people')}{share}"
    style = BADGE_STYLE.format(background=_heat(link.clicks, most))
    return (
        start_tag("span", [("class", BADGE_CLASS), *_data_attributes(link), ("style", style)])
        + escape(text, quote=False)
        + "</span>"
    )


def _data_attributes(link: LinkCount) -> list[tuple[str, str | None]]:
    attributes: list[tuple[str, str | None]] = [
        ("data-clicks", str(link.clicks)),
        ("data-unique-clickers", str(link.clicked)),
        ("data-share", "" if link.share is None else f"{link.share:.6f}"),
    ]
    if link.link_id is not None:
        attributes.append(("data-link-id", link.link_id))
    return attributes


def _heat(clicks: int, most: int) -> str:
    """Grey for no clicks, then amber, orange and red as the link nears the most clicked one.

    Relative to the message's own links rather than the share: shares divide by the whole
    campaign's clicks, so with several variants every share is small."""
    if clicks == 0 or most == 0:
        return "#6b7280"
    if clicks * 2 >= most:
        return "#b91c1c"
    if clicks * 5 >= most:
        return "#ea580c"
    return "#d97706"


def field_chips(text: str) -> str:
    """Escaped text with each merge-field placeholder shown as a chip with the field's name."""
    parts = []
    position = 0
    for match in PLACEHOLDER.finditer(text):
        name, _ = placeholder_parts(match)
        parts.append(escape(text[position : match.start()], quote=False))
        parts.append(
            start_tag(
                "span",
                [("class", FIELD_CLASS), ("title", match.group(0)), ("style", FIELD_STYLE)],
            )
            + escape(name.strip() or match.group(0), quote=False)
            + "</span>"
        )
        position = match.end()
    parts.append(escape(text[position:], quote=False))
    return "".join(parts)


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


def _unmatched_section(links: Sequence[LinkCount], most: int) -> str:
    if not links:
        return ""
    items = "".join(
        "<li>"
        + start_tag("a", [("href", link.url), *_data_attributes(link)])
        + escape(link.url, quote=False)
        + "</a>"
        + badge(link, most)
        + "</li>"
        for link in links
    )
    return (
        start_tag("div", [("class", UNMATCHED_CLASS), ("style", SECTION_STYLE)])
        + "<p><strong>Clicked links that are not in this message</strong></p>"
        + f"<ol>{items}</ol></div>"
    )


def _is_web(href: str | None) -> bool:
    return href is not None and href.strip().lower().startswith(WEB_SCHEMES)


class _AnchorReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href is not None and _is_web(href):
            self.hrefs.append(href)


class _BadgeWriter(HTMLParser):
    """Re-serializes sanitized HTML, adding data- attributes to each web link and a badge
    after it."""

    def __init__(self, matched: list[LinkCount | None], most: int) -> None:
        super().__init__(convert_charrefs=True)
        self.matched = matched
        self.most = most
        self.anchor = 0
        self.parts: list[str] = []
        self.pending_badge: str | None = None
        self.in_style = False

    def output(self) -> str:
        return "".join(self.parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.in_style = tag == "style"
        if tag == "a" and _is_web(dict(attrs).get("href")):
            link = self.matched[self.anchor] or ZERO
            self.anchor += 1
            kept = [(name, value) for name, value in attrs if not name.startswith("data-")]
            attrs = [*kept, ("data-link-position", str(self.anchor)), *_data_attributes(link)]
            self.pending_badge = badge(link, self.most)
        self.parts.append(start_tag(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False
        self.parts.append(f"</{tag}>")
        if tag == "a" and self.pending_badge is not None:
            self.parts.append(self.pending_badge)
            self.pending_badge = None

    def handle_data(self, data: str) -> None:
        # <style> text is already clean CSS; everything else is text to escape again.
        self.parts.append(data if self.in_style else field_chips(data))

    def close(self) -> None:
        super().close()
        if self.pending_badge is not None:
            self.parts.append(self.pending_badge)
            self.pending_badge = None
