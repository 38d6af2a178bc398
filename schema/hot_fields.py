"""Hot fields called by graphql-core directly: the fields every item of a long list resolves
(statistics, variants and links of each campaign, links' counters, each recipient's contact).

strawberry wraps each resolver in its own machinery (argument conversion, field extension chain,
exception-handler lookup) that costs more than these fields' own work, which is reading values
prepared with the list. Here their GraphQLField calls the same method with the same strawberry
`Info` and the same Python arguments, and nothing else: it is allowed only for fields with no
field extension (permission classes are one), no directive and only scalar arguments, so nothing
that strawberry would have done for them is skipped (`direct` refuses any other field).
"""

import inspect
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLScalarType,
    get_nullable_type,
)
from strawberry.schema.schema_converter import CustomGraphQLEnumType, GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from schema.execution import mark_plain

# (GraphQL type, field) resolved directly.
HOT_FIELDS = (
    ("Campaign", "stats"),
    ("Campaign", "funnel"),
    ("Campaign", "variants"),
    ("Campaign", "links"),
    ("Variant", "stats"),
    ("Link", "clicks"),
    ("Link", "clicked"),
    ("Recipient", "contact"),
)


class NotDirect(ValueError):
    """A field that strawberry must keep resolving (it would skip something strawberry does)."""


def direct(schema: strawberry.Schema, graphql_field: GraphQLField, name: str) -> Callable[..., Any]:
    """A resolver of `graphql_field` calling its strawberry resolver method as strawberry would."""
    field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or field.base_resolver is None:
        raise NotDirect(f"{name} has no resolver method")
    if field.extensions or field.directives or schema.exception_handlers:
        raise NotDirect(f"{name} has field extensions, directives or exception handlers")
    resolver = field.base_resolver
    if resolver.self_parameter is None or resolver.info_parameter is None:
        raise NotDirect(f"{name} is not a method taking info")
    for argument_name, argument in graphql_field.args.items():
        if not isinstance(get_nullable_type(argument.type), GraphQLScalarType):
            raise NotDirect(f"{name}({argument_name}:) is not a scalar argument")
    # The Python name of each GraphQL argument.
    names = {schema.config.name_converter.from_argument(a): a.python_name for a in field.arguments}
    method: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
    info_name = resolver.info_parameter.name
    info_class = schema.config.info_class

    def resolve(source: Any, info: GraphQLResolveInfo, **arguments: Any) -> Any:
        values = {names[key]: value for key, value in arguments.items()}
        values[info_name] = info_class(_raw_info=info, _field=field)
        return method(source, **values)

    parameters = list(inspect.signature(method).parameters.values())
    if graphql_field.args or len(parameters) != 2 or parameters[1].name != info_name:
        return resolve
    if parameters[1].kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
        return resolve

    def resolve_bare(source: Any, info: GraphQLResolveInfo) -> Any:
        # (self, info): no arguments to convert.
        return method(source, info_class(_raw_info=info, _field=field))

    return resolve_bare


def resolve_directly(schema: strawberry.Schema, fields: Iterable[tuple[str, str]]) -> None:
    """Make graphql-core call these fields' resolver methods directly."""
    for type_name, field_name in fields:
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        graphql_field = graphql_type.fields[field_name]
        graphql_field.resolve = direct(schema, graphql_field, f"{type_name}.{field_name}")


def plain(schema: strawberry.Schema, graphql_field: GraphQLField) -> Callable[..., Any] | None:
    """A resolver reading a plain field's attribute, as strawberry's basic-field resolver does
    (`config.default_resolver(source, python_name)`) without its three calls in between; None
    for a field strawberry must keep resolving."""
    field = graphql_field.extensions.get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(field, StrawberryField) or not field.is_basic_field:
        return None
    if field.directives or schema.exception_handlers:
        return None
    if schema.config.default_resolver is not getattr:
        return None
    name = field.python_name

    def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
        return getattr(source, name)

    mark_plain(resolve, name)
    return resolve


def resolve_plain_fields(schema: strawberry.Schema) -> None:
    """Make graphql-core read every plain field's attribute directly (an item of a 500-row page
    has a dozen of them)."""
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for graphql_field in graphql_type.fields.values():
            resolver = plain(schema, graphql_field)
            if resolver is not None:
                graphql_field.resolve = resolver


def fast_enum_output(graphql_type: CustomGraphQLEnumType) -> None:
    """Give an enum a dictionary from Python member to GraphQL name: strawberry finds the name by
    comparing the member's value with each value in turn. The answer is the same (the first name
    whose value equals the member's); anything else goes to strawberry's own method."""
    names: dict[Any, str] = {}
    for name, value in graphql_type.values.items():
        names.setdefault(value.value, name)
    wrapped: Any = graphql_type.wrapped_cls
    members = {member: names[member.value] for member in wrapped if member.value in names}
    slow = graphql_type.coerce_output_value

    def coerce_output_value(output_value: Any) -> str:
        if type(output_value) is wrapped:
            name = members.get(output_value)
            if name is not None:
                return name
        return slow(output_value)

    graphql_type.coerce_output_value = coerce_output_value  # type: ignore[method-assign]
    graphql_type.serialize = coerce_output_value  # type: ignore[method-assign]


def fast_enums(schema: strawberry.Schema) -> None:
    for graphql_type in schema._schema.type_map.values():
        if isinstance(graphql_type, CustomGraphQLEnumType):
            fast_enum_output(graphql_type)
