"""The cost of a query before it runs: every field costs 1, and a connection's size multiplies
the cost of what is selected under it (as GitHub's API counts nodes).

`first` sizes a list: the value given (literal or variable), else the argument's default.
"""

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    value_from_ast,
)
from graphql.language import DocumentNode

SIZE_ARGUMENT = "first"


def _size(field_node: FieldNode, field_def: Any, variables: dict[str, Any]) -> int:
    argument = field_def.args.get(SIZE_ARGUMENT) if field_def else None
    if argument is None:
        return 1
    for node in field_node.arguments or ():
        if node.name.value == SIZE_ARGUMENT:
            if isinstance(node.value, VariableNode):
                value = variables.get(node.value.name.value, argument.default_value)
            else:
                value = value_from_ast(node.value, argument.type, variables)
            return max(int(value or 0), 0) if isinstance(value, int) else 1
    default = argument.default_value
    return default if isinstance(default, int) and default > 0 else 1


def query_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: dict[str, Any] | None,
) -> int:
    """The operation's cost: the number of objects and fields it can return at most."""
    variables = variables or {}
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
                    size = _size(selection, field_def, variables)
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
