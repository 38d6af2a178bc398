"""POST/GET /graphql: API-key authentication in front of strawberry's ASGI app."""

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.http.parse_content_type import parse_content_type
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app.auth import authenticate, bearer_token
from app.database import Database
from app.routes.graphiql import ide_page
from app.routes.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    error_answer,
    response_media_type,
    status_of,
)
from app.routes.http import principal_of, read_body
from app.settings import Settings
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


class TextFrames(ASGIWebSocketAdapter):
    """Every message in a text frame: graphql-ws (browsers, Node) refuses binary frames, and
    strawberry sends bytes as binary ones (encode_json returns orjson's bytes)."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        try:
            await self.ws.send_text(self.view.encode_json_string(message))
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class GraphQLApp(GraphQL):
    """strawberry's ASGI app, with a Context per operation, speaking GraphQL over HTTP: Accept
    negotiation (application/graphql-response+json or application/json), the spec's status
    codes, and GraphQL-shaped errors for requests refused before execution."""

    websocket_adapter_class = TextFrames  # type: ignore[assignment]

    def __init__(self, database: Database) -> None:
        super().__init__(schema, graphql_ide="graphiql")
        self.database = database

    # orjson: a dashboard's answer is encoded several times faster than with the stdlib json.
    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)  # its JSONDecodeError is the stdlib's: a clear 400 still

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:  # strawberry answers these in plain text; clients want JSON
            response = graphql_error(exc.status_code, exc.reason, request.headers.get("accept"))
        await response(scope, receive, send)

    async def get_sub_response(self, request: Any) -> Response:
        sub_response = await super().get_sub_response(request)
        # create_response sees only this: it carries the negotiated media type there.
        sub_response.media_type = response_media_type(request.headers.get("accept")) or JSON
        return sub_response

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Refuse, before reading anything, what the answer could not satisfy (406) and bodies
        that are not JSON objects (415, 400); then strawberry's checks of each parameter."""
        if response_media_type(request.headers.get("accept")) is None:
            raise HTTPException(
                406,
                f"the answer is {GRAPHQL_RESPONSE_JSON} or {JSON}; "
                "the Accept header allows neither",
            )
        if request.method == "POST":
            content_type, _ = parse_content_type(request.content_type or "")
            if content_type != JSON:
                raise HTTPException(415, "POST a JSON body with Content-Type: application/json")
            body = (await request.get_body()).lstrip()
            if body and not body.startswith((b"{", b"[")):
                raise HTTPException(400, 'the body must be a JSON object: {"query": "..."}')
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The GraphQL operation's `operationName` must be a string")
        return data

    async def execute_single(  # noqa: PLR0917
        self,
        request: Any,
        request_adapter: AsyncHTTPRequestAdapter,
        sub_response: Response,
        context: Any,
        root_value: Any,
        request_data: GraphQLRequestData,
    ) -> ExecutionResult:
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        except HTTPException as exc:
            # A mutation over GET is the wrong method, not a bad request (the spec's 405).
            if request_adapter.method == "GET" and isinstance(
                exc.__cause__, InvalidOperationTypeError
            ):
                raise HTTPException(405, f"{exc.reason}: POST them") from exc
            raise

    def create_response(
        self,
        response_data: GraphQLHTTPResponse | list[GraphQLHTTPResponse],
        sub_response: Response,
    ) -> Response:
        media_type = sub_response.media_type or JSON
        status = 200
        if isinstance(response_data, dict):
            status = status_of(response_data, media_type)
            if status != 200:  # a request error has no data entry
                response_data = GraphQLHTTPResponse(
                    **{key: value for key, value in response_data.items() if key != "data"}  # type: ignore[typeddict-item]
                )
        response = super().create_response(response_data, sub_response)
        response.headers["content-type"] = media_type
        response.status_code = sub_response.status_code or status
        return response

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


# Headers the spec (and RFC 6750 for 401) asks of some refusals.
REFUSAL_HEADERS = {401: {"WWW-Authenticate": "Bearer"}, 405: {"Allow": "POST"}}


def graphql_error(status: int, message: str, accept: str | None) -> Response:
    """A refusal before execution, shaped as GraphQL clients (Apollo, gql, urql) read errors:
    {"errors": [{"message", "extensions": {"code"}}]}, in the media type the client accepts."""
    return Response(
        orjson.dumps(error_answer(message, status)),
        status_code=status,
        media_type=response_media_type(accept) or JSON,
        headers=REFUSAL_HEADERS.get(status),
    )


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives `body` whole, then listens for the client's disconnect."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class RequireKey:
    """401 unless the request carries a valid API key; the GraphiQL page itself needs none.
    Bodies over `max_body_bytes` are refused (413) before strawberry reads them."""

    def __init__(
        self, app: ASGIApp, database: Database, max_body_bytes: int = Settings.max_body_bytes
    ) -> None:
        self.app = app
        self.database = database
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        wants_ide = (
            request.method == "GET"
            and "query" not in parse_qs(scope.get("query_string", b"").decode())
            and "text/html" in request.headers.get("accept", "")
        )
        if wants_ide:
            await self.app(scope, receive, send)
            return
        accept = request.headers.get("accept")
        principal = await principal_of(self.database, request)
        if principal is None:
            await graphql_error(
                401, "a valid API key is required: Authorization: Bearer <key>", accept
            )(scope, receive, send)
            return
        try:
            body = await read_body(request, self.max_body_bytes)
        except ClientDisconnect:
            return  # the client went away: nobody to answer
        if body is None:
            await graphql_error(
                413, f"the body is larger than {self.max_body_bytes} bytes", accept
            )(scope, receive, send)
            return
        scope["principal"] = principal
        await self.app(scope, replay(body, receive), send)
