"""The ASGI application: GraphQL, events and health on one Starlette app."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.database import Database
from app.routes.events import events_endpoint
from app.routes.graphql import GraphQLApp, RequireKey
from app.settings import Settings


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
        yield
        await database.dispose()

    graphql = RequireKey(GraphQLApp(database), database)
    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/events", events_endpoint(database, settings), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.database = database
    app.state.settings = settings
    return app
