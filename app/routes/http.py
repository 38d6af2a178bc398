"""What every HTTP route shares: JSON answers and refusals, the caller's key, bounded bodies.

Small on purpose: a route imports this, never another route (a webhook does not load the
GraphQL schema).
"""

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.auth import authenticate, bearer_token
from app.database import Database


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def json_error(status: int, message: str) -> Response:
    """A refusal as {"error": message}."""
    return Response(
        orjson.dumps({"error": message}), status_code=status, media_type="application/json"
    )


async def principal_of(database: Database, request: Request) -> Any:
    """Who the request's `Authorization: Bearer <key>` is, or None without a valid key."""
    key = bearer_token(request.headers.get("authorization"))
    if key is None:
        return None
    async with database.read() as connection:
        return await authenticate(connection, key)


async def read_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when its Content-Length says more than `limit` bytes (nothing read) or
    once it grows past `limit` (chunked bodies)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    size = 0
    chunks = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
