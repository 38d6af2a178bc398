"""The HTTP floor: a plain Starlette endpoint returning floor (a)'s dashboard JSON.

Run by the benchmark under uvicorn (`--factory bench.floor_app:create_app`), configured by
BENCH_DATABASE_URL, BENCH_CAMPAIGN, BENCH_ORGANIZATION, BENCH_START and BENCH_TIMELINE.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.queries import Dashboard, dashboard_data
from bench.raw import RawDatabase


def create_app() -> Starlette:
    raw = RawDatabase(os.environ["BENCH_DATABASE_URL"], pool_size=16)  # one per client
    query = Dashboard(
        campaign_id=int(os.environ["BENCH_CAMPAIGN"]),
        organization_id=int(os.environ["BENCH_ORGANIZATION"]),
        start=datetime.fromisoformat(os.environ["BENCH_START"]),
        with_timeline=os.environ.get("BENCH_TIMELINE") == "1",
    )

    async def dashboard(request: Request) -> Response:
        body = orjson.dumps({"data": await dashboard_data(raw, query)})
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b"{}", media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await raw.connect()
        yield
        await raw.close()

    return Starlette(
        routes=[
            Route("/dashboard", dashboard, methods=["POST", "GET"]),
            Route("/healthz", healthz),
        ],
        lifespan=lifespan,
    )
