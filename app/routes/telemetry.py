"""GET /metrics (Prometheus text format, behind METRICS_TOKEN) and the HTTP request counter.

/metrics answers 404 while METRICS_TOKEN is unset, and 401 unless the request carries
`Authorization: Bearer <METRICS_TOKEN>`: the API shares one port with the public, and Prometheus
sends a bearer token by itself (`authorization: {credentials_file: ...}` in a scrape config).
"""

import hmac
import time
from typing import Any

from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import bearer_token
from app.routes.http import json_error
from app.settings import Settings
from app.telemetry import Telemetry

UNMATCHED = "<unmatched>"  # no route: never the raw path, whose values are unbounded
# Methods are the client's choice too: any other is counted as "<other>".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def metrics_endpoint(settings: Settings, telemetry: Telemetry):  # type: ignore[no-untyped-def]
    async def metrics(request: Request) -> Response:
        token = settings.metrics_token
        if not token:
            return json_error(404, "metrics are off: set METRICS_TOKEN to turn them on")
        given = bearer_token(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(given.encode(), token.encode()):
            response = json_error(401, "metrics need Authorization: Bearer <METRICS_TOKEN>")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(telemetry.registry), media_type=content_type)

    return metrics


class CountRequests:
    """Counts each HTTP request by method, route template and status, and times it.

    Pure ASGI (no BaseHTTPMiddleware): per request, one closure, two clock reads and two metric
    updates. The route is the template Starlette matched (scope["route"], set by the router on
    the scope this middleware passed down), e.g. "/webhooks/{provider}/{organization}".
    """

    def __init__(self, app: ASGIApp, telemetry: Telemetry) -> None:
        self.app = app
        self.requests = telemetry.http_requests
        self.duration = telemetry.http_duration
        # (method, route, status) -> its counter and histogram: a dict lookup per request
        # instead of two labels() calls (each a lock and a tuple of strings). Bounded: methods,
        # routes and the statuses the app answers are few.
        self.series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client gets if the app raises before answering
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            template = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in METHODS else "<other>"
            key = (method, template, status)
            series = self.series.get(key)
            if series is None:
                series = self.series[key] = (
                    self.requests.labels(method, template, str(status)),
                    self.duration.labels(method, template),
                )
            series[0].inc()
            series[1].observe(time.perf_counter() - started)
