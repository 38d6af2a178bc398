"""The schema, with the limits public traffic needs."""

import strawberry
from graphql import GraphQLError
from strawberry.directive import DirectiveLocation
from strawberry.extensions import MaxTokensLimiter, ParserCache, SchemaExtension, ValidationCache
from strawberry.extensions.directives import DirectivesExtension, DirectivesExtensionSync
from strawberry.types import ExecutionContext

from schema.directives import cached
from schema.execution import LeanExecutionContext
from schema.extensions import (
    CloseReadConnection,
    MaskUnexpectedErrors,
    QueryCostLimiter,
    QueryShapeLimits,
    log_errors,
)
from schema.hot_fields import HOT_FIELDS, fast_enums, resolve_directly, resolve_plain_fields
from schema.mutation import Mutation
from schema.objects import Campaign, Contact, Link, Recipient, Response, Variant
from schema.operation_telemetry import OperationTelemetry
from schema.organization import Organization, Project, User
from schema.query import Query
from schema.subscription import Subscription

MAX_DEPTH = 12
MAX_ALIASES = 30
MAX_TOKENS = 5000
# Where a directive may stand and still never reach a field's resolver.
OPERATION_LOCATIONS = frozenset(
    {DirectiveLocation.QUERY, DirectiveLocation.MUTATION, DirectiveLocation.SUBSCRIPTION}
)


class Schema(strawberry.Schema):
    """strawberry's Schema, logging refusals at INFO and only faults at ERROR."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors, execution_context)

    def get_extensions(self, sync: bool = False) -> list[SchemaExtension]:
        """strawberry's extensions, without its per-field directive hook when every directive
        of the schema stands on operations only (validation refuses them anywhere else, so the
        hook would never find one on a field). The hook wraps every field's resolver in a
        coroutine: with it, a list of 100 campaigns cost several times more to execute."""
        extensions = super().get_extensions(sync)
        if all(set(directive.locations) <= OPERATION_LOCATIONS for directive in self.directives):
            per_field = (DirectivesExtension, DirectivesExtensionSync)
            extensions = [each for each in extensions if not isinstance(each, per_field)]
        return extensions


schema = Schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Campaign, Variant, Link, Contact, User, Project, Organization, Recipient, Response],
    directives=[cached],
    execution_context_class=LeanExecutionContext,
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
# After the schema is built: the fields every item of a long list resolves skip strawberry's wrappers.
resolve_directly(schema, HOT_FIELDS)
resolve_plain_fields(schema)
fast_enums(schema)
