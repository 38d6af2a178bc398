"""Plain leaves answered inline answer exactly as graphql-core does, beside fields that are not
plain: values, enum names, nulls, and, where a value is wrong (null in a non-null field, a value
its type refuses, an attribute that fails), the same errors at the same paths with the same
nulls."""

from enum import Enum
from typing import Any

import strawberry

from schema.execution import LeanExecutionContext
from schema.hot_fields import fast_enums, resolve_plain_fields


@strawberry.enum
class Level(Enum):
    LOW = "low"
    HIGH = "high"


@strawberry.type
class Item:
    name: str
    count: int | None
    level: Level
    ratio: float | None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


class Broken:
    """An item whose `name` fails when read."""

    count = 1
    level = Level.LOW
    ratio = None

    @property
    def name(self) -> str:
        raise RuntimeError("no name")


ITEMS: list[Any] = []


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return ITEMS

    @strawberry.field
    def strict(self) -> list[Item]:
        return ITEMS


def lean_schema() -> strawberry.Schema:
    lean = strawberry.Schema(query=Query, execution_context_class=LeanExecutionContext)
    resolve_plain_fields(lean)
    fast_enums(lean)
    return lean


PLAIN = strawberry.Schema(query=Query)
LEAN = lean_schema()


def both(query: str) -> tuple[Any, Any]:
    def outcome(schema: strawberry.Schema) -> Any:
        result = schema.execute_sync(query)
        errors = [(error.message, error.path) for error in result.errors or []]
        return result.data, errors

    return outcome(PLAIN), outcome(LEAN)


def test_good_items_answer_the_same_and_take_the_loop(monkeypatch: Any):
    ITEMS[:] = [
        Item(name="a", count=3, level=Level.HIGH, ratio=0.5),
        Item(name="b", count=None, level=Level.LOW, ratio=None),
    ]
    inline: list[Any] = []
    leaf = LeanExecutionContext._leaf

    def counted(self: LeanExecutionContext, how: Any, source: Any) -> Any:
        found = leaf(self, how, source)
        inline.append(found)
        return found

    monkeypatch.setattr(LeanExecutionContext, "_leaf", counted)
    plain, lean = both("{ items { level name n: count ratio name } }")
    assert lean == plain
    assert lean == (
        {
            "items": [
                {"level": "HIGH", "name": "a", "n": 3, "ratio": 0.5},
                {"level": "LOW", "name": "b", "n": None, "ratio": None},
            ]
        },
        [],
    )
    assert inline == ["HIGH", "a", 3, 0.5, "LOW", "b", None, None]


def test_typename_and_wrong_values_go_through_graphql_core():
    ITEMS[:] = [
        Item(name="a", count=1, level=Level.LOW, ratio=None),
        Item(name=None, count=2, level=Level.LOW, ratio=None),  # type: ignore[arg-type]
        Item(name="c", count="many", level=Level.LOW, ratio=None),  # type: ignore[arg-type]
        Item(name="d", count=4, level="LOUD", ratio=None),  # type: ignore[arg-type]
        Broken(),
    ]
    for query in (
        "{ items { name count level } }",
        "{ strict { name count level } }",
        "{ items { __typename name } }",
        "{ items { name shout count } }",
        "{ strict { shout level } }",
    ):
        plain, lean = both(query)
        assert lean == plain, query
    data, errors = both("{ items { name count } }")[1]
    assert data == {
        "items": [
            {"name": "a", "count": 1},
            None,  # null name in a non-null field: the item is null
            {"name": "c", "count": None},  # "many" is no Int
            {"name": "d", "count": 4},
            None,  # the failing attribute
        ]
    }
    assert [path for _, path in errors] == [
        ["items", 1, "name"],
        ["items", 2, "count"],
        ["items", 4, "name"],
    ]


def test_enum_names_come_from_the_enum():
    ITEMS[:] = [Item(name="a", count=1, level=level, ratio=None) for level in Level]
    plain, lean = both("{ items { level } }")
    assert lean == plain == ({"items": [{"level": "LOW"}, {"level": "HIGH"}]}, [])
