"""Hot fields called by graphql-core directly: the fields every item of a long list resolves
(statistics, variants and links of each campaign, links' counters, each recipient's contact).

strawberry wraps each resolver in its own machinery (argument conversion, field extension chain,
exception-handler lookup) that costs more than these fields' own work, which is reading values
prepared with the list. Here their GraphQLField calls the same method with the same strawberry
`Info` and the same Python arguments, and nothing else: it is allowed only for fields with no
field extension (permission classes are one), no directive and only scalar arguments, so nothing
that strawberry would have done for them is skipped (`direct` refuses any other field).
"""

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
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

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

    return resolve


def resolve_directly(schema: strawberry.Schema, fields: Iterable[tuple[str, str]]) -> None:
    """Make graphql-core call these fields' resolver methods directly."""
    for type_name, field_name in fields:
        graphql_type = schema._schema.type_map[type_name]
        assert isinstance(graphql_type, GraphQLObjectType), type_name
        graphql_field = graphql_type.fields[field_name]
        graphql_field.resolve = direct(schema, graphql_field, f"{type_name}.{field_name}")
