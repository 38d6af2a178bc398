"""Who owns the data and who works in it."""

import strawberry

from schema.enums import Role
from schema.node import Node


@strawberry.type
class Organization(Node):
    name: str
    timezone: str = strawberry.field(
        description="IANA time zone, e.g. Europe/Amsterdam; the default for timelines."
    )


@strawberry.type
class Viewer:
    organization: Organization
    role: Role


@strawberry.type(description="A sender of campaigns or an owner of contacts.")
class User(Node):
    name: str
    email: str


@strawberry.type
class Project(Node):
    name: str
