"""Fixtures for real-client tests: a live server with an organization and its keys."""

from collections.abc import Iterator

import pytest

from tests.clients.live import LiveServer


@pytest.fixture
def live_server(database_url: str) -> Iterator[LiveServer]:
    """The app under uvicorn on a free port, on the test's database."""
    with LiveServer(database_url) as server:
        yield server
