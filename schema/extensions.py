"""Schema extensions for public traffic: a cost limit, masking unexpected errors, closing the
read connection."""

import logging
from collections.abc import Iterator
from typing import Any

from graphql import ExecutionResult
from graphql.error import GraphQLError
from strawberry.extensions import AddValidationRules, MaskErrors, SchemaExtension
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule

from schema.query_cost import query_cost

logger = logging.getLogger("campaign_graph.graphql")


def is_unexpected(error: GraphQLError) -> bool:
    """Errors we raised on purpose (GraphQLError) or that the validator found are shown as they
    are; anything else is a bug and is masked."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


class MaskUnexpectedErrors(MaskErrors):
    """Replace unexpected errors by a message with the request id, and log the real one."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=is_unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = getattr(context, "request_id", "-")
        logger.error(
            "request %s: unexpected error at %s",
            request_id,
            error.path,
            exc_info=error.original_error,
        )
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

    async def on_operation(self) -> Iterator[None]:  # type: ignore[override]
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
