""" "Campaign changed" notices, from the writes that change statistics to live subscribers.

SQLite: an in-memory broker wakes this process's subscribers of the campaign at once; other
processes writing the same file (`serve --workers N`, the CLI's ingest) are heard through the data
versions (app/versions.py): while anyone subscribes, one poller per process reads the versions of
the subscribed campaigns at most once a second and wakes those whose version moved. Several app
instances (PostgreSQL): the notice goes out with NOTIFY after the write has committed, and every
instance LISTENs on one dedicated connection, so a subscriber on any instance hears about events
ingested by any other. A notice says only "look again": subscribers read the newest numbers
themselves, so a lost or merged notice never shows a wrong number, only a later one.
"""

import asyncio
import logging
import weakref
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import text

from app import versions
from app.database import Database

logger = logging.getLogger("campaign_graph.pubsub")

CHANNEL = "campaign_changed"
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more.
MAX_PAYLOAD = 7000
RECONNECT_DELAYS = (0.5, 1, 2, 5, 10)
# SQLite: how often the poller reads the subscribed campaigns' versions (writes by other
# processes reach subscribers within this, plus the subscription's own one-second pace).
POLL_SECONDS = 1.0


class LocalBroker:
    """Subscribers of this process, woken by campaign id."""

    def __init__(self) -> None:
        self._listeners: dict[int, set[asyncio.Event]] = defaultdict(set)

    def wake(self, campaign_ids: Iterable[int]) -> None:
        """Wake this process's subscribers of these campaigns."""
        for campaign_id in set(campaign_ids):
            for changed in self._listeners.get(campaign_id, ()):
                changed.set()

    def wake_all(self) -> None:
        for listeners in self._listeners.values():
            for changed in listeners:
                changed.set()

    async def publish(self, campaign_ids: Iterable[int]) -> None:
        """Tell every subscriber of these campaigns that their numbers changed."""
        self.wake(campaign_ids)

    async def _before_listening(self) -> None:
        """Nothing to set up in one process."""

    @asynccontextmanager
    async def listen(self, campaign_id: int) -> AsyncIterator[asyncio.Event]:
        """An event that is set whenever the campaign changes (clear it after looking)."""
        await self._before_listening()
        changed = asyncio.Event()
        self._listeners[campaign_id].add(changed)
        try:
            yield changed
        finally:
            listeners = self._listeners.get(campaign_id)
            if listeners is not None:
                listeners.discard(changed)
                if not listeners:
                    del self._listeners[campaign_id]

    @property
    def listener_count(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    async def stop(self) -> None:
        """Nothing to release in one process."""


class PollingBroker(LocalBroker):
    """SQLite: this process's writes wake subscribers at once; other processes' writes are found
    by a poller of the data versions, running only while this process has subscribers."""

    def __init__(self, database: Database, interval: float = POLL_SECONDS) -> None:
        super().__init__()
        # The engine, not the Database: the registry below must not keep its key alive.
        self.engine = database.engine
        self.interval = interval
        self._seen: dict[int, int] = {}  # campaign id -> version number at the last poll
        self._task: asyncio.Task[None] | None = None

    async def _before_listening(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._listeners:
            await asyncio.sleep(self.interval)
            watched = list(self._listeners)
            if not watched:
                break
            try:
                async with self.engine.connect() as connection:
                    numbers = await versions.campaign_numbers(connection, watched)
            except Exception as exc:  # noqa: BLE001 - try again at the next poll
                logger.warning("could not read the data versions: %s", exc)
                continue
            # A campaign seen for the first time is woken too: its subscriber's first read may
            # have come just before a write of another process (one more read, no wrong number).
            moved = [pk for pk in watched if self._seen.get(pk) != numbers.get(pk, 0)]
            self._seen = {pk: numbers.get(pk, 0) for pk in watched}
            self.wake(moved)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


def _payloads(campaign_ids: Iterable[int]) -> list[str]:
    """Comma-separated ids, split so that each payload stays under PostgreSQL's limit."""
    payloads, current = [], ""
    for campaign_id in sorted(set(campaign_ids)):
        piece = str(campaign_id)
        if current and len(current) + 1 + len(piece) > MAX_PAYLOAD:
            payloads.append(current)
            current = ""
        current = f"{current},{piece}" if current else piece
    if current:
        payloads.append(current)
    return payloads


def _parse_payload(payload: str) -> list[int]:
    return [int(part) for part in payload.split(",") if part.strip().isdigit()]


class PostgresBroker(LocalBroker):
    """LISTEN/NOTIFY across app instances sharing one PostgreSQL database."""

    def __init__(self, database: Database) -> None:
        super().__init__()
        # The engine, not the Database: the registry below must not keep its key alive.
        self.engine = database.engine
        self._connection: Any = None
        self._connecting = asyncio.Lock()
        self._reconnect_task: asyncio.Task[None] | None = None
        self._stopped = False

    def _dsn(self) -> str:
        url = self.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def publish(self, campaign_ids: Iterable[int]) -> None:
        # Through NOTIFY even for this instance's own subscribers: they hear it on the listening
        # connection like everyone else, so each change wakes each subscriber once.
        payloads = _payloads(campaign_ids)
        if not payloads:
            return
        async with self.engine.connect() as connection:
            for payload in payloads:
                await connection.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": CHANNEL, "payload": payload},
                )
            await connection.commit()

    def _on_notification(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self.wake(_parse_payload(payload))

    def _on_termination(self, connection: Any) -> None:
        self._connection = None
        if not self._stopped and (self._reconnect_task is None or self._reconnect_task.done()):
            self._reconnect_task = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._stopped and self.listener_count:
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            attempt += 1
            try:
                await self._before_listening()
            except (OSError, asyncpg.PostgresError) as exc:
                logger.warning("LISTEN connection lost; reconnecting failed: %s", exc)
                continue
            # Changes may have happened while nobody listened: everyone looks again.
            self.wake_all()
            return

    async def _before_listening(self) -> None:
        """Open the LISTEN connection on first use (tests and the CLI never need one)."""
        if self._connection is not None and not self._connection.is_closed():
            return
        async with self._connecting:
            if self._connection is not None and not self._connection.is_closed():
                return
            connection = await asyncpg.connect(self._dsn())
            await connection.add_listener(CHANNEL, self._on_notification)
            connection.add_termination_listener(self._on_termination)
            self._connection = connection

    async def stop(self) -> None:
        self._stopped = True
        if self._reconnect_task is not None:
            self._reconnect_task.cancel()
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            await connection.close()


_brokers: "weakref.WeakKeyDictionary[Database, LocalBroker]" = weakref.WeakKeyDictionary()


def broker_for(database: Database) -> LocalBroker:
    """The broker of this database (one per Database object, made on first use)."""
    broker = _brokers.get(database)
    if broker is None:
        broker = PollingBroker(database) if database.sqlite else PostgresBroker(database)
        _brokers[database] = broker
    return broker


def _database_of(target: Any) -> Database:
    if isinstance(target, Database):
        return target
    return target.state.database  # a Starlette app


async def publish_campaigns_changed(target: Any, campaign_ids: Iterable[int]) -> None:
    """Call after a committed write that changed these campaigns' numbers. `target` is the
    Database or the Starlette app. Never raises: the write stands even if no one hears of it."""
    ids = [int(campaign_id) for campaign_id in campaign_ids if campaign_id]
    if not ids:
        return
    try:
        await broker_for(_database_of(target)).publish(ids)
    except Exception:  # noqa: BLE001 - the data is committed; only the live update is lost
        logger.exception("could not publish a change of campaigns %s", ids[:20])


async def stop_broker(database: Database) -> None:
    """Close the broker's connection (the app's lifespan calls this on shutdown)."""
    broker = _brokers.pop(database, None)
    if broker is not None:
        await broker.stop()
