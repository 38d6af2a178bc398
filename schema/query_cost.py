"""The cost of a query before it runs: every field costs 1, and a connection's size multiplies
the cost of what is selected under it (as GitHub's API counts nodes).

`first` sizes a list as execution will see it: the literal, the variable (or the variable's own
default), else the argument's default. A null `first` costs what the resolver serves for it, the
argument's default (a connection's page size), so `first: null` is no way around the limit.
"""

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import DocumentNode

from resolvers.pagination import DEFAULT_PAGE

SIZE_ARGUMENT = "first"


def served_when_null(argument_default: Any) -> int:
    """The size a resolver serves for a null or omitted `first`: the argument's default (every
    resolver applies it to null as well), else a connection's default page."""
    if isinstance(argument_default, int) and not isinstance(argument_default, bool):
        return max(argument_default, 0)
    return DEFAULT_PAGE


def _size(field_node: FieldNode, field_def: GraphQLField, variables: VariableValues | None) -> int:
    argument = field_def.args.get(SIZE_ARGUMENT)
    if argument is None:
        return 1
    try:
        # The same coercion execution does: literal, variable, variable default, argument default.
        value = get_argument_values(field_def, field_node, variables).get(SIZE_ARGUMENT)
    except GraphQLError:
        value = None  # a bad value: the operation is refused anyway; count what null would serve
    if not isinstance(value, int) or isinstance(value, bool):
        return served_when_null(argument.default_value)
    return max(value, 0)


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    """The operation's cost: the number of objects and fields it can return at most."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [op for op in operations if op.name and op.name.value == operation_name]
    if not operations:
        return 0
    operation = operations[0]
    root = schema.get_root_type(operation.operation)
    if root is None:
        return 0
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
    variable_values = None if isinstance(coerced, list) else coerced

    def cost_of(
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        multiplier: int,
        seen: frozenset[str],
    ) -> int:
        if selection_set is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields = (
                    parent.fields
                    if isinstance(parent, GraphQLObjectType) or hasattr(parent, "fields")
                    else {}
                )
                field_def = fields.get(selection.name.value)  # type: ignore[union-attr]
                total += multiplier
                if field_def is not None and selection.selection_set is not None:
                    child = get_named_type(field_def.type)
                    size = _size(selection, field_def, variable_values)
                    total += cost_of(selection.selection_set, child, multiplier * size, seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                total += cost_of(selection.selection_set, target or parent, multiplier, seen)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is None or name in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value) or parent
                total += cost_of(fragment.selection_set, target, multiplier, seen | {name})
        return total

    return cost_of(operation.selection_set, root, 1, frozenset())
