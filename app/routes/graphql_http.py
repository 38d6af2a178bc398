"""GraphQL over HTTP (the spec's rules, pure): media types, Accept negotiation, status codes."""

from collections.abc import Mapping, Sequence
from typing import Any

# The spec's own media type: with it, status codes tell request errors (4xx) from answers (2xx).
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# The legacy one: every executed request is a 200, whatever its errors.
JSON = "application/json"

# The extensions.code of an error answered without executing anything, by HTTP status.
CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}


def quality(accept_range: str) -> tuple[str, float]:
    """The media range of one Accept entry ("type/subtype; q=0.5") and its weight."""
    media_range, *parameters = (part.strip() for part in accept_range.split(";"))
    weight = 1.0
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value.strip())
            except ValueError:
                weight = 0.0  # a malformed weight accepts nothing rather than everything
    return media_range.lower(), weight


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer with for an Accept header, or None when neither is acceptable.

    The spec's type when the client names it (and weighs it no lower than application/json);
    application/json for a missing Accept, wildcards and legacy clients.
    """
    if accept is None or not accept.strip():
        return JSON
    weights = {GRAPHQL_RESPONSE_JSON: 0.0, JSON: 0.0}
    for entry in accept.split(","):
        if not entry.strip():
            continue
        media_range, weight = quality(entry)
        if media_range in weights:
            weights[media_range] = max(weights[media_range], weight)
        elif media_range in ("*/*", "application/*"):
            # A wildcard is read as application/json: older clients that send */* expect it.
            weights[JSON] = max(weights[JSON], weight)
    if weights[GRAPHQL_RESPONSE_JSON] > 0 and weights[GRAPHQL_RESPONSE_JSON] >= weights[JSON]:
        return GRAPHQL_RESPONSE_JSON
    if weights[JSON] > 0:
        return JSON
    return None


def is_request_error(answer: Mapping[str, Any]) -> bool:
    """Whether an answer is a request error: nothing ran (a document that does not parse or
    validate, variables that do not coerce, a refused cost). Such errors have no path, and no
    data; a field error always has a path, even when it nulls the whole data."""
    errors: Sequence[Mapping[str, Any]] = answer.get("errors") or []
    return (
        answer.get("data") is None
        and bool(errors)
        and all(error.get("path") is None for error in errors)
    )


def status_of(answer: Mapping[str, Any], media_type: str) -> int:
    """The watershed: with the spec's media type a request error is a 400; otherwise a 200."""
    if media_type == GRAPHQL_RESPONSE_JSON and is_request_error(answer):
        return 400
    return 200


def error_answer(message: str, status: int) -> dict[str, Any]:
    """A GraphQL-shaped answer to a request refused before execution (no data entry)."""
    error: dict[str, Any] = {"message": message}
    if status in CODES:
        error["extensions"] = {"code": CODES[status]}
    return {"errors": [error]}


def max_stale(cache_control: str | None, cap: int) -> int | None:
    """The staleness a request's `Cache-Control: max-stale[=N]` accepts, in seconds, capped by
    `cap`; None without the directive (or with a malformed N: exact answers then)."""
    if not cache_control:
        return None
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.strip().lower() != "max-stale":
            continue
        value = value.strip().strip('"')
        if not value:
            return cap  # max-stale without a value: any staleness, so the server's cap
        if not value.isdigit():
            return None
        return min(int(value), cap)
    return None


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks)."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for candidate in if_none_match.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate.removeprefix("W/") == wanted:
            return True
    return False
