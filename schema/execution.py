"""graphql-core's execution with one shortcut: a selected field that is a plain leaf (an attribute
read as it is, of a scalar or enum type: a recipient's status, a campaign's name, statistics,
timeline buckets) is answered inline, instead of through graphql-core's per-field machinery
(resolve info, path, completion), which costs several times the read itself on lists of hundreds.

The shortcut gives the value graphql-core would: the attribute coerced by the field's own type,
at the same key in the same order. Every other field (a resolver, an argument, an object or
abstract type) goes through graphql-core's `execute_field` as before, and so does a plain leaf
whose value graphql-core would report an error for (null in a non-null field, a value the type
refuses, an attribute that fails, an awaitable): graphql-core then reads it again and answers
exactly as it always did. Nothing is shortcut with middleware or @defer in the operation.
"""

from collections.abc import Callable
from typing import Any

from graphql import (
    GraphQLObjectType,
    Undefined,
    get_nullable_type,
    is_leaf_type,
    is_non_null_type,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# How to answer a plain leaf: (attribute, the field type's coercion, whether it is non-null).
Leaf = tuple[str, Callable[[Any], Any], bool]
# Per response key: its field group and, for a plain leaf, how to answer it inline.
Plan = list[tuple[str, Any, Leaf | None]]

# Values that are never awaitable: checked first, as graphql-core checks every result.
_PLAIN_VALUES = frozenset({str, int, float, bool})
# A leaf the shortcut leaves to graphql-core.
_REFUSED = object()

PLAIN_ATTRIBUTE = "plain_attribute"


def mark_plain(resolve: Callable[..., Any], attribute: str) -> None:
    """Say that `resolve` only reads `attribute` of its source (no arguments, no side effect)."""
    setattr(resolve, PLAIN_ATTRIBUTE, attribute)


def plan_of(parent_type: GraphQLObjectType, grouped_field_set: Any) -> Plan | None:
    """The fields of one selection, each a plain leaf or not; None when none is."""
    plan: Plan = []
    for response_key, details in grouped_field_set.items():
        node = details[0].node
        field = parent_type.fields.get(node.name.value)  # __typename is not among them
        leaf: Leaf | None = None
        if field is not None and not node.arguments and not field.args:
            attribute = getattr(field.resolve, PLAIN_ATTRIBUTE, None)
            leaf_type = get_nullable_type(field.type)
            if attribute is not None and is_leaf_type(leaf_type):
                coerce = leaf_type.coerce_output_value  # type: ignore[union-attr]
                leaf = (attribute, coerce, is_non_null_type(field.type))
        plan.append((response_key, details, leaf))
    return plan if any(leaf is not None for _, _, leaf in plan) else None


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, answering plain leaves inline."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per (object type, selection): the selection (kept alive: its id stays unique) and
        # its plan.
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Plan | None]] = {}
        manager = self.middleware_manager
        self._lean = manager is None or manager._middleware_resolvers is None

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        plan = None
        if self._lean:
            key = (parent_type, id(grouped_field_set))
            found = self._plans.get(key)
            if found is None:
                found = self._plans[key] = (
                    grouped_field_set,
                    plan_of(parent_type, grouped_field_set),
                )
            plan = found[1]
        if plan is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # graphql-core's loop (execute_fields), with plain leaves answered inline.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, details, leaf in plan:
                if leaf is not None:
                    value = self._leaf(leaf, source_value)
                    if value is not _REFUSED:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    details,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _leaf(self, leaf: Leaf, source: Any) -> Any:
        """The leaf's answer, or _REFUSED where graphql-core must answer (it would see an error)."""
        attribute, coerce, non_null = leaf
        try:
            value = getattr(source, attribute)
            if value is None:
                return _REFUSED if non_null else None
            if type(value) not in _PLAIN_VALUES and self.is_awaitable(value):
                return _REFUSED
            coerced = coerce(value)
        except Exception:
            return _REFUSED
        if coerced is None or coerced is Undefined:
            return _REFUSED
        return coerced
