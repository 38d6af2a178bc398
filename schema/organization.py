"""Who owns the data and who works in it."""

from typing import Any

import strawberry

from app.ids import global_id
from resolvers.records import ViewerRecord
from schema.enums import Role
from schema.node import Node


@strawberry.type
class Organization(Node):
    name: str
    timezone: str = strawberry.field(
        description="IANA time zone, e.g. Europe/Amsterdam; the default for timelines."
    )

    @classmethod
    def from_row(cls, row: Any) -> "Organization":
        return cls(
            id=strawberry.ID(global_id("Organization", row.id)),
            name=row.name,
            timezone=row.timezone,
        )


@strawberry.type
class Viewer:
    organization: Organization
    role: Role

    @classmethod
    def from_record(cls, record: ViewerRecord) -> "Viewer":
        return cls(organization=Organization.from_row(record.organization), role=record.role)


@strawberry.type(description="A sender of campaigns or an owner of contacts.")
class User(Node):
    name: str
    email: str

    @classmethod
    def from_row(cls, row: Any) -> "User":
        return cls(id=strawberry.ID(global_id("User", row.id)), name=row.name, email=row.email)


@strawberry.type
class Project(Node):
    name: str

    @classmethod
    def from_row(cls, row: Any) -> "Project":
        return cls(id=strawberry.ID(global_id("Project", row.id)), name=row.name)
