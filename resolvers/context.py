"""The per-request context: who is calling, one read connection, and the request's dataloaders."""

import asyncio
import uuid
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from aiodataloader import DataLoader
from graphql import GraphQLError
from sqlalchemy import Executable
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from strawberry.types import Info as StrawberryInfo

from app.auth import Principal
from app.database import Database
from app.enums import Role

T = TypeVar("T")


class PermissionDenied(GraphQLError):
    """The key's role may not do this; shown to the caller with code FORBIDDEN."""

    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


async def read_connection(database: Database) -> AsyncConnection:
    """A connection for a request's reads. On PostgreSQL it runs in autocommit: under READ
    COMMITTED every statement takes its own snapshot inside a transaction or not, so BEGIN and
    ROLLBACK would only add two round trips. On SQLite its first read begins one transaction,
    which gives the request one snapshot."""
    connection = await database.engine.connect()
    if not database.sqlite:
        connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
    return connection


class Context:
    """Made once per GraphQL operation (and per subscription event)."""

    def __init__(
        self,
        database: Database,
        principal: Principal,
        request: Any = None,
        connection: AsyncConnection | None = None,
    ) -> None:
        self.database = database
        self.principal = principal
        self.request = request
        self.request_id = uuid.uuid4().hex[:16]
        # The connection the key was read on, when the edge hands it over: reads then run on it
        # (one snapshot on SQLite, no second connection or transaction).
        self._connection: AsyncConnection | None = connection
        # Set by a resolver whose answer depends on the current time: not cached, no ETag.
        self.depends_on_time = False
        self._lock = asyncio.Lock()
        # Keyed by the loader's factory itself (or an explicit key for factories made per call).
        self._loaders: dict[Hashable, Any] = {}
        # Values read along with other rows, for loaders not made yet (see `prime`).
        self._primed: dict[Hashable, dict[Any, Any]] = {}

    @property
    def organization_id(self) -> int:
        return self.principal.organization_id

    def require(self, role: Role) -> None:
        """Refuse the operation unless the key's role allows `role`."""
        if not self.principal.allows(role):
            raise PermissionDenied(
                f"this needs the {role.value} role; the key has {self.principal.role.value}"
            )

    async def fetch(
        self, statement: Executable, parameters: dict[str, Any] | None = None
    ) -> Sequence[Row[Any]]:
        """Run a read on the request's one connection (dataloaders share it, one at a time)."""
        async with self._lock:
            if self._connection is None:
                self._connection = await read_connection(self.database)
            result = await self._connection.execute(statement, parameters)
            return result.all()

    def reads_current_time(self) -> None:
        """Mark the answer as depending on the current time (a relative window, "now"): the
        response cache neither keeps nor validates it."""
        self.depends_on_time = True

    async def connection(self) -> AsyncConnection:
        """The request's read connection (for a statement that is not a `fetch`)."""
        async with self._lock:
            if self._connection is None:
                self._connection = await read_connection(self.database)
            return self._connection

    def loader(self, factory: Callable[["Context"], T], key: Hashable = None) -> T:
        """The request's loader made by `factory` (a dataloader, or any per-request object), made
        on first use; `key` names it when the factory itself is made per call."""
        name = factory if key is None else key
        if name not in self._loaders:
            loader: Any = factory(self)  # only a dataloader has values primed for it
            for primed_key, value in self._primed.pop(name, {}).items():
                loader.prime(primed_key, value)
            self._loaders[name] = loader
        return self._loaders[name]

    def prime(self, name: Hashable, key: Any, value: Any) -> None:
        """Give the loader made by `name` (its factory) the value of `key`, read along with
        something else, so that loading it costs no statement."""
        loader = self._loaders.get(name)
        if loader is not None:
            loader.prime(key, value)
        else:
            self._primed.setdefault(name, {})[key] = value

    def forget_reads(self) -> None:
        """Drop every dataloader and primed value: after a write, reads must see it.

        Other entries of the request are limits, not caches (the timeline bucket budget), and
        keep counting."""
        self._loaders = {
            name: value
            for name, value in self._loaders.items()
            if not isinstance(value, DataLoader)
        }
        self._primed = {}

    async def close(self) -> None:
        async with self._lock:
            if self._connection is not None:
                await self._connection.close()
                self._connection = None


Info = StrawberryInfo[Context, None]
