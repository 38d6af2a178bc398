"""`campaign-graph ingest FILE.ndjson` streams: a thousand lines checked, then applied, at a time.

A file of 2,600 lines is read in three pieces, every event checked before any is applied, and
gives the numbers a JSON array of the same events (read whole) gives, counted by hand.
"""

from pathlib import Path
from typing import Any

import orjson
import pytest

from app import cli
from app.ingest import replay
from tests.factories import event, make_campaign, make_organization
from tests.webhook_helpers import stats

PEOPLE = [f"p{n:03}@example.com" for n in range(800)]


def history() -> list[dict[str, Any]]:
    """800 sent and delivered, 600 of them opened, 300 of those clicked: 2,500 events."""
    events = []
    for number, email in enumerate(PEOPLE):
        events.append(event("SENT", email, id=f"sent-{number}"))
        events.append(event("DELIVERED", email, minutes=1, id=f"delivered-{number}"))
        if number < 600:
            events.append(event("OPENED", email, minutes=2, id=f"opened-{number}"))
        if number < 300:
            events.append(event("CLICKED", email, minutes=3, id=f"clicked-{number}"))
    return events


def ndjson(events: list[dict[str, Any]]) -> bytes:
    # Blank lines are skipped, and the last line needs no newline.
    lines = [orjson.dumps(item) for item in events]
    return b"\n".join(lines[:10]) + b"\n\n  \n" + b"\n".join(lines[10:])


@pytest.fixture
def pieces(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The sizes of what was read (checked, then again to apply) and applied, in order."""
    seen: dict[str, list[int]] = {"read": [], "applied": []}
    read, apply = replay.read_events, replay.apply_in_batches

    def reading(body: bytes, provider: str) -> Any:
        events = read(body, provider)
        seen["read"].append(len(events))
        return events

    async def applying(database: Any, organization_id: int, events: Any, *args: Any) -> Any:
        seen["applied"].append(len(events))
        return await apply(database, organization_id, events, *args)

    monkeypatch.setattr(replay, "read_events", reading)
    monkeypatch.setattr(replay, "apply_in_batches", applying)
    return seen


async def test_an_ndjson_file_is_applied_piece_by_piece_like_the_whole_array(
    client, database, tmp_path: Path, pieces: dict[str, list[int]]
) -> None:
    events = history()
    # 100 events sent twice, the second time in another piece: duplicates.
    lines = ndjson(events + events[:100])
    streamed, whole = await make_organization(database), await make_organization(database)
    for organization in (streamed, whole):
        await make_campaign(client, organization, "spring")
    (tmp_path / "events.ndjson").write_bytes(lines)
    (tmp_path / "events.json").write_bytes(orjson.dumps(events + events[:100]))

    result = await cli.ingest_file(database, streamed.name, tmp_path / "events.ndjson", "canonical")
    assert (result.accepted, result.duplicates, result.unmatched) == (2500, 100, 0)
    # 2,600 events in pieces of 1,000: all three checked, then read again and applied.
    assert pieces["read"] == [1000, 1000, 600, 1000, 1000, 600]
    assert pieces["applied"] == [1000, 1000, 600]

    pieces["read"].clear()
    pieces["applied"].clear()
    result = await cli.ingest_file(database, whole.name, tmp_path / "events.json", "canonical")
    assert (result.accepted, result.duplicates, result.unmatched) == (2500, 100, 0)
    assert pieces["applied"] == [2600]  # an array is read whole (then applied 1,000 a batch)

    expected = {"recipients": 800, "sent": 800, "delivered": 800, "opened": 600, "clicked": 300}
    for organization in (streamed, whole):
        numbers = await stats(client, organization)
        assert {name: numbers[name] for name in expected} == expected
        assert (numbers["opens"], numbers["clicks"]) == (600, 300)


async def test_a_bad_line_late_in_the_file_applies_nothing(
    client, database, organization, tmp_path: Path, pieces: dict[str, list[int]]
) -> None:
    await make_campaign(client, organization, "spring")
    events = history()
    events[1700]["occurredAt"] = "yesterday"
    (tmp_path / "events.ndjson").write_bytes(ndjson(events))

    with pytest.raises(cli.CommandError, match="event 1700"):
        await cli.ingest_file(database, organization.name, tmp_path / "events.ndjson", "canonical")
    assert pieces["applied"] == []  # the first piece was fine, and still not applied
    assert (await stats(client, organization))["sent"] == 0
