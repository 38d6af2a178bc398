"""The ASGI application: GraphQL, events and health on one Starlette app."""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute

from app.database import Database
from app.ingest.providers import ADAPTERS
from app.ingest.providers.ses import SnsClient
from app.pubsub import stop_broker
from app.routes.events import events_endpoint
from app.routes.exports import export_routes
from app.routes.graphiql import STATIC_FOLDER, StaticAssets
from app.routes.graphql import GraphQLApp, GraphQLEdge, ResponseCacheCollector
from app.routes.message_views import message_view_routes
from app.routes.telemetry import CountRequests, metrics_endpoint
from app.routes.tracking import tracking_routes
from app.routes.webhooks import webhooks_endpoint
from app.settings import Settings
from app.telemetry import Telemetry


def create_app(settings: Settings | None = None, database: Database | None = None) -> Starlette:
    """The app for `settings` (from the environment by default)."""
    settings = settings or Settings.from_environment()
    database = database or Database.from_url(settings.database_url)
    logging.basicConfig(level=settings.log_level)

    async def healthz(request: Request) -> JSONResponse:
        async with database.read() as connection:
            await connection.exec_driver_sql("SELECT 1")
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # What start-up made (modules, the schema, compiled statements) lives as long as the
        # process: frozen, the collector's frequent passes over young objects no longer walk it.
        gc.collect()
        gc.freeze()
        yield
        await stop_broker(database)
        await sns.close()
        await database.dispose()

    graphql = GraphQLEdge(GraphQLApp(database), database, settings)
    sns = SnsClient()  # SNS signing certificates, fetched once and cached (tests add their own)
    # Per app, in its own registry: apps made in one process never share a metric.
    telemetry = Telemetry(database.engine, sources=["events", "tracking", *ADAPTERS])
    telemetry.registry.register(ResponseCacheCollector(graphql.cache))
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            # GraphiQL's files (the page at GET /graphql loads nothing from elsewhere).
            Mount("/static", StaticAssets(directory=STATIC_FOLDER), name="static"),
            Route("/events", events_endpoint(database, settings, telemetry), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            *export_routes(database),
            *message_view_routes(database),
            Route(
                "/webhooks/{provider}/{organization}",
                webhooks_endpoint(database, settings, sns, telemetry),
                methods=["POST"],
            ),
            *tracking_routes(database, settings, telemetry),
            Route("/metrics", metrics_endpoint(settings, telemetry), methods=["GET"]),
        ],
        middleware=[Middleware(CountRequests, telemetry=telemetry)],
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.settings = settings
    app.state.sns = sns
    app.state.telemetry = telemetry
    app.state.graphql = graphql  # its response cache, for tests and the bench
    return app
