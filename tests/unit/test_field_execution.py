"""Execution runs no hook per field (one makes every field of every list item a coroutine, which
cost the campaign list several times its time), and the hot fields graphql-core calls directly
answer as strawberry would, while fields with permissions or input arguments stay strawberry's."""

import pytest
import strawberry
from strawberry.directive import DirectiveLocation, DirectiveValue
from strawberry.extensions import SchemaExtension
from strawberry.extensions.directives import DirectivesExtension

from schema.hot_fields import HOT_FIELDS, NotDirect, resolve_directly
from schema.root import Schema, schema


def per_field_hooks(extensions: list[SchemaExtension]) -> list[str]:
    return [
        type(each).__name__
        for each in extensions
        if type(each).resolve is not SchemaExtension.resolve
    ]


def test_the_schema_runs_no_hook_per_field():
    assert per_field_hooks(schema.get_extensions()) == []
    assert per_field_hooks(schema.get_extensions(sync=True)) == []


@strawberry.type
class Query:
    name: str = "x"


@strawberry.directive(locations=[DirectiveLocation.QUERY])
def on_operation(seconds: int) -> None:
    return None


@strawberry.directive(locations=[DirectiveLocation.FIELD])
def on_field(value: DirectiveValue[str]) -> str:
    return value.upper()


def test_operation_directives_need_no_field_hook_but_field_directives_keep_it():
    operation_only = Schema(query=Query, directives=[on_operation])
    assert per_field_hooks(operation_only.get_extensions()) == []
    assert operation_only.execute_sync(
        "query @onOperation(seconds: 3) { name }", root_value=Query()
    ).data == {"name": "x"}

    with_field = Schema(query=Query, directives=[on_operation, on_field])
    assert any(isinstance(each, DirectivesExtension) for each in with_field.get_extensions())
    assert with_field.execute_sync("{ name @onField }", root_value=Query()).data == {"name": "X"}


class Always(strawberry.BasePermission):
    message = "no"

    def has_permission(self, source: object, info: object, **kwargs: object) -> bool:
        return False


@strawberry.input
class Range:
    low: int


@strawberry.type
class Item:
    value: int

    @strawberry.field
    def doubled(self, info: strawberry.Info, times: int | None = 2) -> int:
        return self.value * (times or 0)

    @strawberry.field(permission_classes=[Always])
    def secret(self, info: strawberry.Info) -> int:
        return self.value

    @strawberry.field
    def within(self, info: strawberry.Info, range: Range) -> bool:
        return self.value >= range.low


@strawberry.type
class Items:
    @strawberry.field
    def items(self) -> list[Item]:
        return [Item(value=1), Item(value=5)]


def test_a_direct_field_answers_as_strawberry_does():
    items = Schema(query=Items)
    resolve_directly(items, [("Item", "doubled")])
    result = items.execute_sync(
        "{ items { doubled a: doubled(times: 3) b: doubled(times: null) } }", root_value=Items()
    )
    assert result.data == {
        "items": [{"doubled": 2, "a": 3, "b": 0}, {"doubled": 10, "a": 15, "b": 0}]
    }


def test_fields_with_permissions_or_input_arguments_stay_with_strawberry():
    items = Schema(query=Items)
    with pytest.raises(NotDirect, match="field extensions"):
        resolve_directly(items, [("Item", "secret")])
    with pytest.raises(NotDirect, match="not a scalar argument"):
        resolve_directly(items, [("Item", "within")])
    with pytest.raises(NotDirect, match="no resolver method"):
        resolve_directly(items, [("Item", "value")])


def test_the_hot_fields_are_direct():
    for type_name, field_name in HOT_FIELDS:
        resolve = schema._schema.type_map[type_name].fields[field_name].resolve
        # resolve_bare: a field of no arguments, its method called with (source, info).
        assert resolve.__qualname__ in (
            "direct.<locals>.resolve",
            "direct.<locals>.resolve_bare",
        ), (type_name, field_name)
