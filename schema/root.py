"""The schema, with the limits public traffic needs."""

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, ParserCache, ValidationCache
from strawberry.types import ExecutionContext

from schema.directives import cached
from schema.extensions import (
    CloseReadConnection,
    MaskUnexpectedErrors,
    QueryCostLimiter,
    QueryShapeLimits,
    log_errors,
)
from schema.mutation import Mutation
from schema.objects import Campaign, Contact, Link, Recipient, Response, Variant
from schema.operation_telemetry import OperationTelemetry
from schema.organization import Organization, Project, User
from schema.query import Query
from schema.subscription import Subscription

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000


class Schema(strawberry.Schema):
    """strawberry's Schema, logging refusals at INFO and only faults at ERROR."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors, execution_context)


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Campaign, Variant, Link, Contact, User, Project, Organization, Recipient, Response],
    directives=[cached],
    extensions=[
        OperationTelemetry,  # first: it sees the operation whole, errors as clients get them
        QueryShapeLimits.with_limits(MAX_DEPTH, MAX_ALIASES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        QueryCostLimiter,
        MaskUnexpectedErrors,
        CloseReadConnection,
    ],
)
