"""GET /graphql from a browser: our GraphiQL page, its strict CSP, and every asset from the app."""

from html.parser import HTMLParser
from urllib.parse import urljoin

import httpx

from app.routes.graphiql import STATIC_FOLDER

# What Chromium sends when a person opens the URL.
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


class Assets(HTMLParser):
    """The page's scripts and stylesheets, and the text of any inline script."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.stylesheets: list[str] = []
        self.inline_script = ""
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script":
            self.in_script = True
            self.scripts.append(attributes.get("src") or "")
        if tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self.in_script = False

    def handle_data(self, data: str) -> None:
        if self.in_script:
            self.inline_script += data


def directives(policy: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in policy.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


async def test_a_browser_gets_graphiql_without_a_key(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["x-content-type-options"] == "nosniff"
    policy = directives(page.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no CDN
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assets = Assets()
    assets.feed(page.text)
    assert assets.inline_script.strip() == ""
    assert len(assets.scripts) == 6  # react, react-dom, js-cookie, graphiql, explorer, ide.js
    assert len(assets.stylesheets) == 3  # graphiql, explorer, ide.css
    assert "unpkg.com" not in page.text and "https:" not in page.text


async def test_every_asset_of_the_page_comes_from_the_app(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"Accept": BROWSER_ACCEPT})
    assets = Assets()
    assets.feed(page.text)

    for src in assets.scripts + assets.stylesheets:
        url = urljoin("http://testserver/graphql", src)
        assert url.startswith("http://testserver/static/graphiql/"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["x-content-type-options"] == "nosniff"
        expected_type = "text/javascript" if src.endswith(".js") else "text/css"
        assert answer.headers["content-type"].startswith(expected_type), url
        served = url.removeprefix("http://testserver/static/")
        assert answer.content == (STATIC_FOLDER / served).read_bytes(), url
        if "@" in src:  # a vendored package: its version is in the path, it never changes
            assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
        else:  # our own ide.js / ide.css: revalidated
            assert answer.headers["cache-control"] == "no-cache"
            again = await client.get(url, headers={"If-None-Match": answer.headers["etag"]})
            assert again.status_code == 304


async def test_the_page_is_the_only_thing_served_without_a_key(
    client: httpx.AsyncClient,
) -> None:
    # An empty query parameter is not the IDE page for strawberry: it must not run keyless.
    empty_query = await client.get("/graphql?query=", headers={"Accept": BROWSER_ACCEPT})
    assert empty_query.status_code == 401
    query = await client.get("/graphql?query={__typename}", headers={"Accept": "application/json"})
    assert query.status_code == 401
    missing = await client.get("/static/graphiql/react@18.2.0/nothing.js")
    assert missing.status_code == 404
