"""What a GraphQL document's answer depends on, read from the document alone (before running it):
its operation type, the campaigns whose versions cover it, and its @cached(maxAge:)."""

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLObjectType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    parse,
)

from app.ids import parse_pk
from schema.root import MAX_TOKENS, schema

# Types whose every field is the campaign's own data: a write that changes any of it bumps the
# campaign's version (app/versions.py). An answer that selects only these, under root fields
# `campaign(id:)`, depends on those campaigns' versions alone. Anything else (contacts,
# recipients, owners, projects, lists, search) depends on the organization's version: an
# allowlist, so a field added later falls back to the safe, organization-wide key.
CAMPAIGN_TYPES = frozenset(
    {
        "Campaign",
        "Variant",
        "Link",
        "Stats",
        "Funnel",
        "TimelineBucket",
        "ABTest",
        "VariantComparison",
        "HeatmapCell",
        "Factor",
        "AutomatedActivity",
    }
)
CACHED_DIRECTIVE = "cached"


@dataclass(frozen=True, slots=True)
class Argument:
    """A literal string, or the name of a variable to read at request time."""

    value: str
    variable: bool = False

    def resolve(self, variables: Mapping[str, Any]) -> object:
        return variables.get(self.value) if self.variable else self.value


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    operation: OperationType
    # The `id` arguments of the root `campaign` fields; None: the answer may read anything of
    # the organization.
    campaign_ids: tuple[Argument, ...] | None
    max_age: Argument | None  # @cached(maxAge:) on the operation
    name: str | None = None  # the operation's own name (for telemetry)

    def campaigns(self, variables: Mapping[str, Any]) -> list[int] | None:
        """The campaign ids the answer depends on; None: the whole organization."""
        if self.campaign_ids is None:
            return None
        ids = []
        for argument in self.campaign_ids:
            value = argument.resolve(variables)
            pk = parse_pk(value, "Campaign") if isinstance(value, str) else None
            if pk is None:
                return None  # the field will refuse it; the whole organization is safe
            ids.append(pk)
        return ids

    def max_age_seconds(self, variables: Mapping[str, Any]) -> int | None:
        if self.max_age is None:
            return None
        value = self.max_age.resolve(variables)
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        try:
            seconds = int(value)
        except ValueError:
            return None
        return seconds if seconds >= 0 else None


@lru_cache(maxsize=1024)
def plan(document: str, operation_name: str | None) -> DocumentPlan | None:
    """The plan of the operation a request runs; None when the document does not parse or has
    no such operation (strawberry then answers the request error)."""
    try:
        # Read before the key is checked: bounded like strawberry's own parse.
        parsed = parse(document, max_tokens=MAX_TOKENS)
    except GraphQLError:
        return None
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is None:
        chosen = operations[0] if len(operations) == 1 else None
    else:
        named = [o for o in operations if o.name is not None and o.name.value == operation_name]
        chosen = named[0] if len(named) == 1 else None
    if chosen is None:
        return None
    name = chosen.name.value if chosen.name is not None else None
    if chosen.operation is not OperationType.QUERY:
        return DocumentPlan(chosen.operation, None, None, name)
    return DocumentPlan(
        OperationType.QUERY, campaign_arguments(chosen, fragments), max_age_of(chosen), name
    )


def max_age_of(operation: OperationDefinitionNode) -> Argument | None:
    for directive in operation.directives or ():
        if directive.name.value != CACHED_DIRECTIVE:
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "maxAge":
                value = argument.value
                if isinstance(value, IntValueNode):
                    return Argument(value.value)
                if isinstance(value, VariableNode):
                    return Argument(value.name.value, variable=True)
    return None


def campaign_arguments(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> tuple[Argument, ...] | None:
    """The `id` of every root field when each is `campaign(id:)` selecting only the campaign's
    own data (or `__typename`); None otherwise."""
    root_fields = fields_of(operation.selection_set, fragments, set())
    if any(field is None for field in root_fields):
        return None
    ids: list[Argument] = []
    campaign_type = schema._schema.get_type("Campaign")
    assert isinstance(campaign_type, GraphQLObjectType)
    for field in root_fields:
        assert field is not None
        if field.name.value == "__typename":
            continue
        if field.name.value != "campaign":
            return None
        arguments = {argument.name.value: argument.value for argument in field.arguments or ()}
        value = arguments.get("id")
        if set(arguments) != {"id"}:
            return None
        if isinstance(value, StringValueNode):
            ids.append(Argument(value.value))
        elif isinstance(value, VariableNode):
            ids.append(Argument(value.name.value, variable=True))
        else:
            return None
        if field.selection_set is None or not own_data(
            field.selection_set, campaign_type, fragments, set()
        ):
            return None
    return tuple(ids)


def fields_of(
    selection_set: SelectionSetNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> list[FieldNode | None]:
    """The fields of a selection set with its fragments spread (None for what cannot be read:
    an unknown or recursive fragment)."""
    found: list[FieldNode | None] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += fields_of(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in seen or name not in fragments:
                found.append(None)
                continue
            found += fields_of(fragments[name].selection_set, fragments, seen | {name})
    return found


def own_data(
    selection_set: SelectionSetNode,
    parent: GraphQLObjectType,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> bool:
    """Whether everything selected under a campaign-owned type is campaign-owned too."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            definition = parent.fields.get(name)
            if definition is None:
                return False  # invalid: strawberry refuses it, nothing is cached
            named = get_named_type(definition.type)
            if is_leaf_type(named):
                continue
            if named.name not in CAMPAIGN_TYPES or not isinstance(named, GraphQLObjectType):
                return False
            if selection.selection_set is None or not own_data(
                selection.selection_set, named, fragments, seen
            ):
                return False
        else:
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner = selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in seen or name not in fragments:
                    return False
                seen = seen | {name}
                condition = fragments[name].type_condition
                inner = fragments[name].selection_set
            else:
                return False
            if condition is not None and condition.name.value != parent.name:
                return False  # a condition on an interface or another type: not worth reading
            if not own_data(inner, parent, fragments, seen):
                return False
    return True
