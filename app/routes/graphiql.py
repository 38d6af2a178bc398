"""GraphiQL served by the app itself: the IDE page under a strict CSP, and its static files."""

import os
from html import escape
from pathlib import Path

from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_FOLDER = Path(__file__).parents[1] / "static"

# Relative to the page (/graphql), so the app still works mounted under a path prefix.
ASSETS_URL = "static/graphiql/"

# In the order strawberry's page loads them; the vendored ones carry their version in the path
# (see app/static/graphiql/README.md).
STYLESHEETS = (
    "graphiql@3.8.3/graphiql.min.css",
    "graphiql-plugin-explorer@1.0.2/style.css",
    "ide.css",
)
SCRIPTS = (
    "react@18.2.0/react.production.min.js",
    "react-dom@18.2.0/react-dom.production.min.js",
    "js-cookie@3.0.5/js.cookie.min.js",
    "graphiql@3.8.3/graphiql.min.js",
    "graphiql-plugin-explorer@1.0.2/index.umd.js",
    "ide.js",
)

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        # Our own files only: no inline script, no eval.
        "script-src 'self'",
        # GraphiQL's dialogs (Radix, through react-remove-scroll) insert a <style> element whose
        # text varies (the scrollbar's width), so no hash can allow it; styles run no code.
        "style-src 'self' 'unsafe-inline'",
        # The favicon and GraphiQL's icons are data: URLs.
        "img-src 'self' data:",
        # graphiql.min.css embeds its fonts (Roboto, Fira Code) as data: URLs.
        "font-src 'self' data:",
        # Queries go to this origin over HTTP; subscriptions over ws(s) to the same host
        # (CSP 3's 'self' matches the same host's ws:/wss:).
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

PAGE = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>campaign-graph GraphiQL</title>
    <link rel="icon" href="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22 \
viewBox=%220 0 100 100%22%3E%3Ctext y=%22.9em%22 font-size=%2280%22%3E%F0%9F%8D%93%3C/text%3E%3C/svg%3E" />
{stylesheets}
  </head>
  <body>
    <div id="graphiql" class="graphiql-container">Loading...</div>
{scripts}
  </body>
</html>
"""


def page_html() -> str:
    """The IDE page: every asset from this app, the bootstrap in ide.js (no inline script)."""
    stylesheets = "\n".join(
        f'    <link rel="stylesheet" href="{escape(ASSETS_URL + path)}" />' for path in STYLESHEETS
    )
    scripts = "\n".join(
        f'    <script src="{escape(ASSETS_URL + path)}"></script>' for path in SCRIPTS
    )
    return PAGE.format(stylesheets=stylesheets, scripts=scripts)


IDE_HTML = page_html()


def ide_page() -> HTMLResponse:
    return HTMLResponse(
        IDE_HTML,
        headers={
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            # The page names ide.js, which may change with the app: always revalidate.
            "Cache-Control": "no-cache",
        },
    )


class StaticAssets(StaticFiles):
    """StaticFiles with cache headers: a file under a `<package>@<version>/` folder never
    changes (a new version is a new path), so browsers keep it a year without asking again;
    our own files are revalidated (ETag) on every load."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        versioned = "@" in Path(full_path).parent.name
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if versioned else "no-cache"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
