"""The Node interface: every object with a global id (see app/ids.py)."""

import strawberry


@strawberry.interface
class Node:
    id: strawberry.ID
