"""POST/GET /graphql: API-key authentication in front of strawberry's ASGI app."""

from typing import Any
from urllib.parse import parse_qs

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from app.auth import authenticate, bearer_token
from app.database import Database
from app.routes.graphiql import ide_page
from resolvers.context import Context
from schema.root import schema


class ConnectionContext(Context):
    """A websocket's context: its key is checked at connection_init (graphql-transport-ws).

    strawberry makes it once per connection, so the dataloaders and read connection are dropped
    after every operation (CloseReadConnection calls close()): no cached rows outlive an operation.
    """

    connection_params: dict[str, Any] | None = None

    async def close(self) -> None:
        await super().close()
        self.forget_reads()


def websocket_key(params: dict[str, Any], headers: Any) -> str | None:
    """The API key of connection_init's payload ({"Authorization": "Bearer <key>"} or
    {"apiKey": "<key>"}), else of the handshake's Authorization header."""
    for name in ("Authorization", "authorization"):
        value = params.get(name)
        if isinstance(value, str):
            return bearer_token(value)
    for name in ("apiKey", "api_key", "key"):
        value = params.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return bearer_token(headers.get("authorization"))


class GraphQLApp(GraphQL):
    """strawberry's ASGI app, with a Context per operation."""

    def __init__(self, database: Database) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.database = database

    # orjson: a dashboard's answer is encoded several times faster than with the stdlib json.
    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is the stdlib's: a clear 400 still

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(self, request: Any, response: Any) -> Context:  # type: ignore[override]
        if request.scope["type"] == "websocket":
            # No principal until connection_init proves a key (on_ws_connect).
            return ConnectionContext(self.database, None, request)  # type: ignore[arg-type]
        principal = request.scope.get("principal")
        if principal is None:
            # Only the IDE page passes RequireKey without a key: strawberry asks for a context
            # before it decides to render the page, which needs none. Anything else is refused.
            if not self.should_render_graphql_ide(self.request_adapter_class(request)):
                raise HTTPException(401, "a valid API key is required: Authorization: Bearer <key>")
        return Context(self.database, principal, request)

    async def render_graphql_ide(self, request: Any) -> Response:
        """Our GraphiQL page: every asset from this app, under a strict CSP (app/routes/graphiql.py)."""
        return ide_page()

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        """Accept the websocket only with a valid key; refusal closes it with 4403."""
        key = websocket_key(context.connection_params or {}, context.request.headers)
        principal = None
        if key is not None:
            async with self.database.read() as connection:
                principal = await authenticate(connection, key)
        if principal is None:
            raise ConnectionRejectionError(
                {"reason": "a valid API key is required in connection_init's payload"}
            )
        context.principal = principal
        return UNSET


def json_error(status: int, message: str) -> Response:
    return Response(
        orjson.dumps({"error": message}), status_code=status, media_type="application/json"
    )


class RequireKey:
    """401 unless the request carries a valid API key; the GraphiQL page itself needs none."""

    def __init__(self, app: ASGIApp, database: Database) -> None:
        self.app = app
        self.database = database

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        wants_ide = (
            request.method == "GET"
            and "query" not in parse_qs(scope.get("query_string", b"").decode())
            and "text/html" in request.headers.get("accept", "")
        )
        if wants_ide:
            await self.app(scope, receive, send)
            return
        principal = await principal_of(self.database, request)
        if principal is None:
            await json_error(401, "a valid API key is required: Authorization: Bearer <key>")(
                scope, receive, send
            )
            return
        scope["principal"] = principal
        await self.app(scope, receive, send)


async def principal_of(database: Database, request: Request) -> Any:
    key = bearer_token(request.headers.get("authorization"))
    if key is None:
        return None
    async with database.read() as connection:
        return await authenticate(connection, key)
