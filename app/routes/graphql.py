"""POST/GET /graphql: API-key authentication in front of strawberry's ASGI app."""

import hashlib
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import orjson
from cross_web import AsyncHTTPRequestAdapter, HTTPException
from graphql import OperationType
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncConnection
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

from app import versions
from app.auth import (
    Principal,
    authenticate,
    authenticate_with_versions,
    authenticate_with_versions_now,
    bearer_token,
)
from app.database import Database
from app.persisted_queries import (
    NOT_FOUND_CODE,
    NOT_FOUND_MESSAGE,
    PersistedQueries,
    PersistedQueryError,
    requested,
)
from app.response_cache import CachedAnswer, ResponseCache, with_age
from app.routes.graphiql import ide_page
from app.routes.graphql_http import (
    GRAPHQL_RESPONSE_JSON,
    JSON,
    error_answer,
    etag_matches,
    max_stale,
    response_media_type,
    status_of,
)
from app.routes.graphql_scopes import DocumentPlan, plan
from app.routes.http import read_body
from app.settings import Settings
from app.telemetry import telemetry_of
from resolvers.context import Context, read_connection
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
        made: Context | None = request.scope.get(CONTEXT)
        if made is not None:
            return made  # the edge's, holding the connection the key was read on
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


# The wall clock of answers' ages (a name of its own, so tests can move it).
clock = time.time
# Where the edge leaves the request's Context for GraphQLApp.get_context.
CONTEXT = "campaign_graph.context"
# Every cacheable answer: browsers and proxies keep it for this caller only and ask again
# (If-None-Match) before each use, so no answer outlives a write unnoticed.
CACHE_CONTROL = "private, no-cache"
VARY = "Authorization, Accept"
# Answers differ between releases of the schema: a new SDL changes every key and ETag.
SCHEMA_FINGERPRINT = hashlib.sha256(schema.as_str().encode()).hexdigest()[:16]


def read_operation(request: Request, body: bytes) -> dict[str, Any] | None:
    """The request's one operation ({"query", "variables", "operationName", "extensions"}) when
    it is well formed; None for anything else (a batch, a malformed body or parameter), which
    strawberry then answers with its own refusal."""
    if request.method == "POST":
        content_type, _ = parse_content_type(request.headers.get("content-type", ""))
        if content_type != JSON:
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
    elif request.method == "GET":
        params = request.query_params
        data = {name: params[name] for name in ("query", "operationName") if name in params}
        for name in ("variables", "extensions"):
            if params.get(name):
                try:
                    data[name] = orjson.loads(params[name])
                except orjson.JSONDecodeError:
                    return None
    else:
        return None
    if not isinstance(data, dict):
        return None
    kinds = {"query": str, "operationName": str, "variables": dict, "extensions": dict}
    for name, kind in kinds.items():
        if data.get(name) is not None and not isinstance(data[name], kind):
            return None
    return data


def answer_key(principal: Principal, data: dict[str, Any]) -> str:
    """What an answer depends on besides the data: who asks (organization, role, and the
    organization's time zone, the timelines' default), the document, its operation, its
    variables (in key order), the schema's release."""
    return hashlib.sha256(
        orjson.dumps(
            [
                SCHEMA_FINGERPRINT,
                principal.organization_id,
                principal.role.value,
                principal.timezone,
                data["query"],
                data.get("operationName"),
                data.get("variables") or {},
            ],
            option=orjson.OPT_SORT_KEYS,
        )
    ).hexdigest()


def etag_of(key: str, token: str) -> str:
    """The ETag of the answer to `key` over these versions: known before executing anything."""
    return 'W/"' + hashlib.sha256(f"{key}/{token}".encode()).hexdigest()[:32] + '"'


def cache_headers(etag: str, media_type: str | None = None) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"etag", etag.encode()),
        (b"cache-control", CACHE_CONTROL.encode()),
        (b"vary", VARY.encode()),
    ]
    if media_type is not None:
        headers.append((b"content-type", media_type.encode()))
    return headers


async def send_answer(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Captured:
    """The answer strawberry sends, held back so that headers can be added once it is whole."""

    def __init__(self) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = [
                (name, value)
                for name, value in message.get("headers", [])
                if name.lower() != b"content-length"
            ]
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


class GraphQLEdge:
    """In front of GraphQLApp: the API key (401 without a valid one; the GraphiQL page needs
    none), bounded bodies (413), automatic persisted queries, and for queries the response
    cache, ETags and 304s.

    The key is read on the connection the operation's reads then use (one transaction on
    SQLite, autocommit on PostgreSQL): a dashboard costs the key, one version check and its
    reads. A cached answer is served only after that check shows none of the versions it read
    has moved (app/versions.py), unless the client accepts bounded staleness."""

    def __init__(self, app: ASGIApp, database: Database, settings: Settings) -> None:
        self.app = app
        self.database = database
        self.max_body_bytes = settings.max_body_bytes
        self.max_stale_seconds = settings.max_stale_seconds
        self.cache = ResponseCache(settings.response_cache_bytes)
        self.persisted = PersistedQueries(settings.persisted_query_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        params = request.query_params
        wants_ide = (
            request.method == "GET"
            and "query" not in params
            and "extensions" not in params
            and "text/html" in request.headers.get("accept", "")
        )
        if wants_ide:
            await self.app(scope, receive, send)
            return
        accept = request.headers.get("accept")
        key = bearer_token(request.headers.get("authorization"))
        if key is None:
            await refuse(401, UNAUTHENTICATED, accept, scope, receive, send)
            return
        try:
            body = await read_body(request, self.max_body_bytes)
        except ClientDisconnect:
            return  # the client went away: nobody to answer
        if body is None:
            message = f"the body is larger than {self.max_body_bytes} bytes"
            await refuse(413, message, accept, scope, receive, send)
            return
        data = read_operation(request, body)
        found = self.plan_of(data)
        if await self.from_cache(request, send, data, found, key):
            return
        connection = await read_connection(self.database)
        context: Context | None = None
        try:
            # A query's versions are read with the key, in one statement: before its reads,
            # so that a write committed in between moves them (the answer is then not reused).
            checked_at = clock()
            current: versions.VersionSet | None = None
            principal: Principal | None
            if data is not None and found is not None and found.operation is OperationType.QUERY:
                variables = data.get("variables") or {}
                authenticated = await authenticate_with_versions(
                    connection, key, found.campaigns(variables)
                )
                principal, current = authenticated or (None, None)
            else:
                principal = await authenticate(connection, key)
            if principal is None:
                await refuse(401, UNAUTHENTICATED, accept, scope, receive, send)
                return
            if data is not None:
                sent_query = data.get("query") is not None
                if not await self.persisted_query(data, request, scope, send):
                    return  # answered: an unknown hash, or a hash that is not the query's
                if not sent_query and data.get("query") is not None and request.method == "POST":
                    body = orjson.dumps(data)  # the persisted document, for strawberry
            reads: AsyncConnection | None = connection
            if found is not None and found.operation is not OperationType.QUERY:
                # A write's reads must see its own writes: not on the snapshot the key was
                # read in (SQLite); the context opens a connection when it reads. This one goes
                # back to the pool now, not after the write (which takes one of its own).
                reads = None
                await connection.close()
            context = Context(self.database, principal, request, reads)
            scope[CONTEXT] = context
            scope["principal"] = principal
            receive = replay(body, receive)
            if (
                data is not None
                and found is not None
                and current is not None
                and response_media_type(accept) is not None
            ):
                # Only what strawberry would execute: anything it refuses (406 above, a body
                # that is not JSON) never reaches the cache.
                await self.query(scope, receive, send, context, data, found, current, checked_at)
            else:
                await self.app(scope, receive, send)
        finally:
            if context is not None:
                await context.close()  # closes the connection when it was handed over
            await connection.close()

    def plan_of(self, data: dict[str, Any] | None) -> DocumentPlan | None:
        """The plan of the request's document, sent or persisted (nothing is registered
        before the key is checked)."""
        if data is None:
            return None
        document = data.get("query")
        if document is None:
            try:
                persisted = requested(data.get("extensions"))
            except PersistedQueryError:
                return None
            document = None if persisted is None else self.persisted.get(persisted.sha256)
        if document is None:
            return None
        return plan(document, data.get("operationName"))

    async def persisted_query(
        self, data: dict[str, Any], request: Request, scope: Scope, send: Send
    ) -> bool:
        """Resolve `extensions.persistedQuery` into data["query"] (registering a document sent
        with its hash); False when the request was answered here instead."""
        accept = request.headers.get("accept")
        try:
            persisted = requested(data.get("extensions"))
            if persisted is None:
                return True
            document = data.get("query")
            if document is None:
                document = self.persisted.get(persisted.sha256)
                if document is None:
                    await persisted_query_not_found(accept, send)
                    return False
                data["query"] = document
                if request.method == "GET":
                    # strawberry reads GET parameters from the query string: give it the query.
                    pairs = [*request.query_params.multi_items(), ("query", document)]
                    scope["query_string"] = urlencode(pairs).encode()
            else:
                self.persisted.register(persisted, document)
        except PersistedQueryError as exc:
            await send_answer(
                send,
                400,
                orjson.dumps(error_answer(str(exc), 400)),
                [(b"content-type", (response_media_type(accept) or JSON).encode())],
            )
            return False
        return True

    def stale_allowed(
        self, request: Request, found: DocumentPlan, variables: dict[str, Any]
    ) -> int | None:
        """The staleness (seconds) the client accepts: Cache-Control: max-stale=N, else the
        operation's @cached(maxAge: N); capped by MAX_STALE_SECONDS. None: exact answers."""
        header = max_stale(request.headers.get("cache-control"), self.max_stale_seconds)
        if header is not None:
            return header
        directive = found.max_age_seconds(variables)
        return None if directive is None else min(directive, self.max_stale_seconds)

    async def query(  # noqa: PLR0917
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: Context,
        data: dict[str, Any],
        found: DocumentPlan,
        current: versions.VersionSet,
        checked_at: float,
    ) -> None:
        """A query: from the cache when its versions have not moved (or within the staleness
        the client accepts), a 304 when the client holds the same answer, else executed."""
        request = Request(scope)
        principal = context.principal
        if await self.without_executing(request, send, data, found, principal, current, checked_at):
            return
        key = answer_key(principal, data)
        etag = etag_of(key, current.token)
        stale = self.stale_allowed(request, found, data.get("variables") or {})
        self.cache.misses += 1
        captured = Captured()
        await self.app(scope, receive, captured.send)
        body = captured.body
        headers = captured.headers
        answer = orjson.loads(body) if captured.status == 200 else None
        if isinstance(answer, dict) and "errors" not in answer and not context.depends_on_time:
            extensions = answer.get("extensions")
            entry = CachedAnswer(
                body=body,
                token=current.token,
                etag=etag,
                computed_at=checked_at,
                extensions_last=(
                    bool(extensions)
                    and isinstance(extensions, dict)
                    and list(answer)[-1] == "extensions"
                ),
            )
            if self.cache.enabled:
                self.cache.put(key, entry)
            headers = [*headers, *cache_headers(etag)]
            if stale is not None:
                body = with_age(entry, 0)
                headers.append((b"age", b"0"))
        await send_answer(send, captured.status, body, headers)

    async def from_cache(
        self,
        request: Request,
        send: Send,
        data: dict[str, Any] | None,
        found: DocumentPlan | None,
        key: str,
    ) -> bool:
        """SQLite: a query answered from the cache (or a 304) after reading its key and
        versions on the database's quick reader, in the event loop: no connection from the
        pool, no thread, no Context. False when it must go the usual way, which reads them again
        on its own connection (a miss is executed exactly as before): a mutation, a refusal, a
        document to register, a busy database, an answer to compute."""
        reader = self.database.quick_reader()
        if (
            reader is None
            or data is None
            or found is None
            or found.operation is not OperationType.QUERY
            or response_media_type(request.headers.get("accept")) is None
        ):
            return False
        try:
            persisted = requested(data.get("extensions"))
        except PersistedQueryError:
            return False
        if persisted is not None:
            document = (
                None if data.get("query") is not None else self.persisted.get(persisted.sha256)
            )
            if document is None:
                return False  # registered, checked or refused the usual way
            data = {**data, "query": document}  # as the usual way resolves it
        checked_at = clock()
        try:
            authenticated = authenticate_with_versions_now(
                reader, key, found.campaigns(data.get("variables") or {})
            )
        except sqlite3.Error:
            return False
        if authenticated is None:
            return False  # refused the usual way
        principal, current = authenticated
        return await self.without_executing(
            request, send, data, found, principal, current, checked_at
        )

    async def without_executing(  # noqa: PLR0917
        self,
        request: Request,
        send: Send,
        data: dict[str, Any],
        found: DocumentPlan,
        principal: Principal,
        current: versions.VersionSet,
        checked_at: float,
    ) -> bool:
        """Answer from the cache when its versions have not moved (or within the staleness the
        client accepts), or 304 when the client holds the same answer; False: execute it."""
        started = time.perf_counter()
        media_type = response_media_type(request.headers.get("accept")) or JSON
        key = answer_key(principal, data)
        stale = self.stale_allowed(request, found, data.get("variables") or {})
        entry = self.cache.get(key) if self.cache.enabled else None
        if entry is not None and stale is not None:
            age = clock() - entry.computed_at
            if age <= stale:
                self.cache.hits += 1
                if etag_matches(request.headers.get("if-none-match"), entry.etag):
                    headers = [*cache_headers(entry.etag), (b"age", b"%d" % age)]
                    await send_answer(send, 304, b"", headers)
                else:
                    await self.send_cached(send, entry, media_type, age)
                count_operation(request, found, started)
                return True
        etag = etag_of(key, current.token)
        if etag_matches(request.headers.get("if-none-match"), etag):
            await send_answer(send, 304, b"", cache_headers(etag))
            count_operation(request, found, started)
            return True
        if entry is not None and entry.token == current.token:
            self.cache.hits += 1
            if stale is not None:
                # Known exact as of this check: its age starts again from here.
                entry = replace(entry, computed_at=checked_at)
                self.cache.put(key, entry)
                await self.send_cached(send, entry, media_type, 0)
            else:
                await send_answer(send, 200, entry.body, cache_headers(etag, media_type))
            count_operation(request, found, started)
            return True
        return False

    async def send_cached(
        self, send: Send, entry: CachedAnswer, media_type: str, age: float
    ) -> None:
        """An answer served within the staleness the client accepts: its age (whole seconds
        since it was last known exact) in extensions.cache.age and the Age header."""
        seconds = int(age)
        headers = [*cache_headers(entry.etag, media_type), (b"age", str(seconds).encode())]
        await send_answer(send, 200, with_age(entry, seconds), headers)


def count_operation(request: Request, found: DocumentPlan, started: float) -> None:
    """An operation answered without executing, counted like one that ran (OperationTelemetry
    counts those): /metrics shows every operation clients asked for."""
    telemetry = telemetry_of(request)
    if telemetry is not None:
        telemetry.graphql_operation(found.name, "query", (), time.perf_counter() - started)


UNAUTHENTICATED = "a valid API key is required: Authorization: Bearer <key>"


async def refuse(
    status: int, message: str, accept: str | None, scope: Scope, receive: Receive, send: Send
) -> None:
    await graphql_error(status, message, accept)(scope, receive, send)


async def persisted_query_not_found(accept: str | None, send: Send) -> None:
    """Apollo's answer to a hash it does not know: the client sends the document again."""
    media_type = response_media_type(accept) or JSON
    answer = {"errors": [{"message": NOT_FOUND_MESSAGE, "extensions": {"code": NOT_FOUND_CODE}}]}
    # A request error: 400 with the spec's media type, 200 with application/json, like any.
    status = status_of(answer, media_type)
    await send_answer(send, status, orjson.dumps(answer), [(b"content-type", media_type.encode())])


class ResponseCacheCollector(Collector):
    """The response cache in /metrics: its bytes (bounded by RESPONSE_CACHE_BYTES), entries,
    hits and misses."""

    def __init__(self, cache: ResponseCache) -> None:
        self.cache = cache

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        prefix = "campaign_graph_response_cache"
        yield GaugeMetricFamily(f"{prefix}_bytes", "Bytes of answers held", self.cache.bytes)
        yield GaugeMetricFamily(f"{prefix}_entries", "Answers held", len(self.cache))
        yield CounterMetricFamily(f"{prefix}_hits", "Answers served from it", self.cache.hits)
        yield CounterMetricFamily(f"{prefix}_misses", "Queries executed", self.cache.misses)
