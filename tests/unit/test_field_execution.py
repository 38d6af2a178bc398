"""Execution runs no hook per field: a per-field extension hook makes every field of every list
item a coroutine, which cost the campaign list several times its time."""

import strawberry
from strawberry.directive import DirectiveLocation, DirectiveValue
from strawberry.extensions import SchemaExtension
from strawberry.extensions.directives import DirectivesExtension

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
