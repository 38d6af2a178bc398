"""graphql-core's execution with one shortcut: an object whose selected fields are all plain
leaves (attributes read as they are, scalars or enums: statistics, timeline buckets, a contact's
email and name) is completed in one loop instead of graphql-core's per-field machinery (resolve
info, path, completion), which costs several times the read itself on lists of hundreds.

The shortcut gives the same dictionary graphql-core would: the same keys in the same order, each
value coerced by the field's own type. Anything that is not plain (a resolver, an argument, an
abstract or object type, @defer, middleware) and any value graphql-core would report an error for
(null in a non-null field, a value the type refuses, an attribute that fails) sends the object
through graphql-core's own path, which then answers exactly as it always did.
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
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (response key, attribute, the field type's coercion, whether the field is non-null)
Leaf = tuple[str, str, Callable[[Any], Any], bool]

# Values that are never awaitable: checked first, as graphql-core checks every result.
_PLAIN_VALUES = frozenset({str, int, float, bool})

PLAIN_ATTRIBUTE = "plain_attribute"


def mark_plain(resolve: Callable[..., Any], attribute: str) -> None:
    """Say that `resolve` only reads `attribute` of its source (no arguments, no side effect)."""
    setattr(resolve, PLAIN_ATTRIBUTE, attribute)


class LeanExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, completing objects of plain leaves in one loop."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Per (object type, field group): its plan, or None when it must go through graphql-core.
        self._leaf_plans: dict[tuple[GraphQLObjectType, int], list[Leaf] | None] = {}
        manager = self.middleware_manager
        self._lean = manager is None or manager._middleware_resolvers is None

    def collect_and_execute_subfields(
        self,
        return_type: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        result: Any,
        position_context: Any,
    ) -> Any:
        if self._lean:
            key = (return_type, id(field_details_list))
            try:
                plan = self._leaf_plans[key]
            except KeyError:
                plan = self._leaf_plans[key] = self._plan(return_type, field_details_list)
            if plan is not None:
                data = self._leaves(plan, result)
                if data is not None:
                    return data
        return super().collect_and_execute_subfields(
            return_type, field_details_list, path, result, position_context
        )

    def _plan(self, return_type: GraphQLObjectType, field_details_list: Any) -> list[Leaf] | None:
        # graphql-core's own memo: it also keeps `field_details_list` alive (its id stays unique).
        grouped, new_defer_usages, _forbidden = self.collect_subfields(
            return_type, field_details_list
        )
        if new_defer_usages:
            return None
        plan: list[Leaf] = []
        for response_key, details in grouped.items():
            node = details[0].node
            field = return_type.fields.get(node.name.value)  # __typename is not among them
            if field is None or node.arguments or field.args:
                return None
            attribute = getattr(field.resolve, PLAIN_ATTRIBUTE, None)
            leaf_type = get_nullable_type(field.type)
            if attribute is None or not is_leaf_type(leaf_type):
                return None
            plan.append(
                (
                    response_key,
                    attribute,
                    leaf_type.coerce_output_value,  # type: ignore[union-attr]
                    is_non_null_type(field.type),
                )
            )
        return plan

    def _leaves(self, plan: list[Leaf], source: Any) -> dict[str, Any] | None:
        """The object's answer, or None where graphql-core must answer (it would see an error)."""
        data: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        for response_key, attribute, coerce, non_null in plan:
            try:
                value = getattr(source, attribute)
                if value is None:
                    if non_null:
                        return None
                    data[response_key] = None
                    continue
                if type(value) not in _PLAIN_VALUES and is_awaitable(value):
                    return None
                coerced = coerce(value)
            except Exception:
                return None
            if coerced is None or coerced is Undefined:
                return None
            data[response_key] = coerced
        return data
