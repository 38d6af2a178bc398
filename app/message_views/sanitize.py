"""Make stored e-mail HTML safe for a browser: no scripts, no event handlers, no remote loads."""

from html import escape
from html.parser import HTMLParser
from urllib.parse import quote

import nh3
import tinycss2
from tinycss2.ast import (
    AtRule,
    Declaration,
    FunctionBlock,
    Node,
    ParenthesesBlock,
    QualifiedRule,
    SquareBracketsBlock,
    URLToken,
)

# An e-mail's layout markup: ammonia's defaults plus what newsletters use for layout.
TAGS = set(nh3.ALLOWED_TAGS) | {"font", "center", "style", "section", "main", "tfoot"}
# Dropped with everything inside them (the rest of the unknown tags keep their text).
CLEAN_CONTENT_TAGS = {"script", "title", "noscript", "template", "iframe", "object", "xmp"}
LAYOUT_ATTRIBUTES = {
    "style", "class", "id", "align", "valign", "width", "height", "bgcolor", "color", "border",
    "cellpadding", "cellspacing", "dir", "lang", "title", "role",
}  # fmt: skip
ATTRIBUTES = {
    "*": LAYOUT_ATTRIBUTES,
    "a": {"href", "name", "target"},
    "img": {"src", "alt"},
    "font": {"face", "size"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "col": {"span"},
    "colgroup": {"span"},
}
LINK_SCHEMES = ("http:", "https:", "mailto:")
# Images embedded in the message itself load nothing; svg+xml is left out (it may carry script).
INLINE_IMAGE_PREFIXES = ("data:image/png", "data:image/gif", "data:image/jpeg", "data:image/webp")
# CSS functions that compute a value and can name no resource (url(), image(), image-set() can).
CSS_FUNCTIONS = {
    "rgb", "rgba", "hsl", "hsla", "calc", "min", "max", "clamp", "var",
    "linear-gradient", "radial-gradient", "repeating-linear-gradient", "repeating-radial-gradient",
}  # fmt: skip
# At-rules that only group other rules; @import, @font-face and the rest are dropped.
CSS_GROUPING_RULES = {"media", "supports"}
# What a remote image shows instead: a grey box of the image's own size, loading nothing.
PLACEHOLDER_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="60" viewBox="0 0 120 60" '
    'preserveAspectRatio="none"><rect width="120" height="60" fill="#e5e7eb"/>'
    '<path d="M30 45 50 25 65 38 75 30 90 45Z" fill="#9ca3af"/></svg>'
)
IMAGE_PLACEHOLDER = "data:image/svg+xml," + quote(PLACEHOLDER_SVG)
# Kept on the placeholder so a person can still see which image it was; an unknown data-
# attribute makes the browser load nothing.
ORIGINAL_SOURCE_ATTRIBUTE = "data-original-src"


def sanitize_html(html: str) -> str:
    """The message's HTML with everything that could run or load from elsewhere taken out."""
    cleaned = nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags=CLEAN_CONTENT_TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=_filter_attribute,
        generic_attribute_prefixes={"data-"},
        url_schemes={"http", "https", "mailto", "data"},
        strip_comments=True,
    )
    # Second pass over ammonia's own well-formed output: the parts it leaves as they are
    # (style sheets, image sources) get their remote references removed.
    rewriter = _RemoteLoadRemover()
    rewriter.feed(cleaned)
    rewriter.close()
    return rewriter.output()


def clean_declarations(css: str) -> str:
    """A style attribute's declarations without any that could load something."""
    kept = [
        _declaration(node)
        for node in tinycss2.parse_blocks_contents(css)
        if _safe_declaration(node)
    ]
    return "; ".join(kept)


def clean_stylesheet(css: str) -> str:
    """A <style> element's rules with declarations that load something and non-grouping at-rules removed."""
    return "\n".join(
        _rules(tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True))
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "href":
        lowered = value.strip().lower()
        return value if lowered.startswith(LINK_SCHEMES) or lowered.startswith("#") else None
    if attribute == "style":
        return clean_declarations(value) or None
    if attribute == "src" and tag == "img":
        # Decided in the second pass, which can also keep the original as an inert attribute.
        return value
    if attribute in ("src", "cite") or value.strip().lower().startswith(("javascript:", "data:")):
        return None
    return value


def _rules(nodes: list[Node]) -> list[str]:
    rules = []
    for node in nodes:
        if isinstance(node, QualifiedRule):
            body = clean_declarations(tinycss2.serialize(node.content))
            rules.append(f"{tinycss2.serialize(node.prelude).strip()} {{ {body} }}")
        elif isinstance(node, AtRule) and node.lower_at_keyword in CSS_GROUPING_RULES:
            if node.content is None or not _safe_values(node.prelude):
                continue
            inner = _rules(
                tinycss2.parse_rule_list(node.content, skip_comments=True, skip_whitespace=True)
            )
            prelude = tinycss2.serialize(node.prelude).strip()
            rules.append(f"@{node.lower_at_keyword} {prelude} {{\n" + "\n".join(inner) + "\n}")
    return rules


def _safe_declaration(node: Node) -> bool:
    return isinstance(node, Declaration) and _safe_values(node.value)


def _safe_values(tokens: list[Node]) -> bool:
    """No url() token and no function outside the computing ones, at any depth."""
    for token in tokens:
        if isinstance(token, URLToken):
            return False
        if isinstance(token, FunctionBlock):
            if token.lower_name not in CSS_FUNCTIONS or not _safe_values(token.arguments):
                return False
        elif isinstance(token, ParenthesesBlock | SquareBracketsBlock):
            if not _safe_values(token.content):
                return False
    return True


def _declaration(node: Declaration) -> str:
    important = " !important" if node.important else ""
    return f"{node.name}: {tinycss2.serialize(node.value).strip()}{important}"


class _RemoteLoadRemover(HTMLParser):
    """Re-serializes sanitized HTML, cleaning <style> sheets and replacing remote images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.in_style = False

    def output(self) -> str:
        return "".join(self.parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            attrs = _inert_image(attrs)
        self.in_style = tag == "style"
        self.parts.append(start_tag(tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        self.in_style = False
        self.parts.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if self.in_style:
            # Raw text inside <style>: nothing in it may close the element early.
            self.parts.append(clean_stylesheet(data).replace("</", "<\\/"))
        else:
            self.parts.append(escape(data, quote=False))


def _inert_image(attrs: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    source = dict(attrs).get("src") or ""
    # A placeholder already (sanitizing twice changes nothing) or an embedded raster image.
    if source == IMAGE_PLACEHOLDER or source.lower().startswith(INLINE_IMAGE_PREFIXES):
        return attrs
    kept = [
        (name, value) for name, value in attrs if name not in ("src", ORIGINAL_SOURCE_ATTRIBUTE)
    ]
    # A remote address is kept for a person to read; an embedded data: image is just dropped.
    remote = source and not source.lower().startswith("data:")
    inert = [(ORIGINAL_SOURCE_ATTRIBUTE, source)] if remote else []
    return [("src", IMAGE_PLACEHOLDER), *inert, *kept]


def start_tag(tag: str, attrs: list[tuple[str, str | None]]) -> str:
    """An HTML start tag with its attribute values escaped."""
    rendered = "".join(
        f" {name}" if value is None else f' {name}="{escape(value, quote=True)}"'
        for name, value in attrs
    )
    return f"<{tag}{rendered}>"
