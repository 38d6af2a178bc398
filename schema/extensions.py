"""Schema extensions for public traffic: a cost limit, masking unexpected errors, closing the
read connection; and how errors are logged."""

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

from graphql import ExecutionResult
from graphql.error import GraphQLError, GraphQLSyntaxError
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionContext

from schema.query_cost import query_cost

logger = logging.getLogger("campaign_graph.graphql")


# strawberry's own refusals of an operation type the transport does not allow (a query over
# the legacy graphql-ws protocol, a mutation over GET): the caller's business, not a bug.
REFUSED_BY_STRAWBERRY = (InvalidOperationTypeError, CannotGetOperationTypeError)


def is_unexpected(error: GraphQLError) -> bool:
    """Errors we raised on purpose (GraphQLError), strawberry's refusals and what the validator
    found are shown as they are; anything else is a bug and is masked."""
    original = error.original_error
    return original is not None and not isinstance(original, (GraphQLError, *REFUSED_BY_STRAWBERRY))


def _request_id(execution_context: ExecutionContext | None) -> str:
    context = execution_context.context if execution_context is not None else None
    return str(getattr(context, "request_id", "-"))


def _code(error: GraphQLError) -> str:
    """The error's extensions.code; a document that does not parse or validate has none."""
    code = (error.extensions or {}).get("code")
    if code:
        return str(code)
    return "GRAPHQL_PARSE_FAILED" if isinstance(error, GraphQLSyntaxError) else "GRAPHQL_INVALID"


def log_errors(errors: list[GraphQLError], execution_context: ExecutionContext | None) -> None:
    """Log an operation's errors (in place of strawberry's, which logs each at ERROR with its
    traceback): a refusal (bad input, not found, forbidden, too costly, an invalid document) is
    the caller's business, one INFO line; a fault is a bug, ERROR with its traceback. Both carry
    the request id that the caller sees in a masked error."""
    request_id = _request_id(execution_context)
    for error in errors:
        path = ".".join(str(part) for part in error.path) if error.path else "-"
        if is_unexpected(error):
            logger.error(
                "request %s: unexpected error at %s: %s",
                request_id,
                path,
                error.message,
                exc_info=error.original_error,
            )
        else:
            logger.info(
                "request %s: refused %s at %s: %s", request_id, _code(error), path, error.message
            )


class MaskUnexpectedErrors(MaskErrors):
    """Replace unexpected errors by a message with the request id (log_errors has logged the
    real one)."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        request_id = _request_id(self.execution_context)
        return GraphQLError(
            message=f"Unexpected error (request id {request_id}).",
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": "INTERNAL", "requestId": request_id},
        )


class QueryShapeLimits(AddValidationRules):
    """Limits on query depth and aliases, as validation rules made once.

    strawberry's QueryDepthLimiter and MaxAliasesLimiter build new rule classes per instance;
    as the rules are part of ValidationCache's key, a fresh instance per request missed the cache
    every time and every request was validated again (a fifth of a dashboard request).
    """

    rules: tuple[type, ...] = ()

    def __init__(self) -> None:
        super().__init__(list(self.rules))

    @classmethod
    def with_limits(cls, max_depth: int, max_aliases: int) -> type["QueryShapeLimits"]:
        """A subclass whose rules, made here once, refuse deeper or more aliased queries."""
        rules = (depth_rule(max_depth, None, None), aliases_rule(max_aliases))
        return type("QueryShapeLimits", (cls,), {"rules": rules})


class CloseReadConnection(SchemaExtension):
    """Return the operation's read connection to the pool once the result is built."""

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        context = self.execution_context.context
        if hasattr(context, "close"):
            await context.close()


class QueryCostLimiter(SchemaExtension):
    """Refuse operations whose cost is over the limit before they run; report the cost of every
    operation in `extensions.cost` so clients can see what they spend."""

    max_cost = 100_000

    def __init__(self) -> None:
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None:
            self.cost = query_cost(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if self.cost > self.max_cost:
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"query cost {self.cost} is over the limit of {self.max_cost}: "
                            "connection sizes (first) multiply the cost of what they select; "
                            "ask for smaller pages",
                            extensions={
                                "code": "QUERY_TOO_COSTLY",
                                "cost": self.cost,
                                "limit": self.max_cost,
                            },
                        )
                    ],
                )
        yield

    def get_results(self) -> dict[str, Any]:
        return (
            {"cost": {"requested": self.cost, "limit": self.max_cost}}
            if self.cost is not None
            else {}
        )
