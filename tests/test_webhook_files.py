"""`campaign-graph ingest FILE --provider NAME`: providers' exported events, as their webhooks."""

import ast
import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import insert, select

from app.cli import main
from app.database import Database
from app.models import Campaign, Organization
from tests.test_webhook_postmark import RECORDS
from tests.test_webhook_sendgrid import BATCH


def make_campaign(database_url: str, organization: str) -> None:
    async def create() -> None:
        database = Database.from_url(database_url)
        try:
            async with database.write() as connection:
                org = (
                    await connection.execute(
                        select(Organization.id).where(Organization.name == organization)
                    )
                ).scalar_one()
                await connection.execute(
                    insert(Campaign).values(
                        organization_id=org,
                        external_id="spring",
                        name="Spring",
                        created_at=datetime.now(UTC),
                    )
                )
        finally:
            await database.dispose()

    asyncio.run(create())


def ingest(capsys: Any, path: Path, provider: str) -> dict[str, int]:
    capsys.readouterr()
    main(["ingest", str(path), "--provider", provider, "--org", "Acme"])
    return ast.literal_eval(capsys.readouterr().out.strip())


@pytest.mark.fresh_database
@pytest.mark.parametrize(
    "provider, items, first",
    [
        ("sendgrid", BATCH, {"accepted": 14, "duplicates": 0, "unmatched": 1}),
        ("postmark", RECORDS, {"accepted": 10, "duplicates": 0, "unmatched": 1}),
    ],
)
def test_a_provider_file_ingests_like_its_webhooks(
    database_url, monkeypatch, capsys, tmp_path, provider, items, first
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    make_campaign(database_url, "Acme")
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(item) for item in items))
    assert ingest(capsys, path, provider) == first
    # Again: every event is a duplicate.
    total = sum(first.values())
    assert ingest(capsys, path, provider) == {"accepted": 0, "duplicates": total, "unmatched": 0}


@pytest.mark.fresh_database
def test_a_bad_item_applies_nothing(database_url, monkeypatch, capsys, tmp_path) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    path = tmp_path / "events.json"
    path.write_bytes(orjson.dumps([BATCH[0], {"email": "x@example.com"}]))
    with pytest.raises(SystemExit):
        main(["ingest", str(path), "--provider", "sendgrid", "--org", "Acme"])
    assert "item 1" in capsys.readouterr().err


@pytest.mark.parametrize("provider", ["brevo", "sparkpost"])
async def test_brevo_and_sparkpost_files_give_their_webhooks_statistics(
    client, organization, database_url, monkeypatch, capsys, tmp_path, provider
) -> None:
    # The same events as the webhook tests, from a file: the same numbers, worked out by hand there.
    from tests import test_webhook_brevo, test_webhook_sparkpost
    from tests.factories import make_campaign as make_campaign_over_graphql
    from tests.webhook_helpers import stats

    module = test_webhook_brevo if provider == "brevo" else test_webhook_sparkpost
    items = list(module.EVENTS)
    if provider == "sparkpost":
        items.append({"msys": {}})  # a test ping in an export is skipped
    await make_campaign_over_graphql(client, organization, "spring")
    monkeypatch.setenv("DATABASE_URL", database_url)
    path = tmp_path / "events.ndjson"
    path.write_bytes(b"\n".join(orjson.dumps(item) for item in items))
    capsys.readouterr()
    await asyncio.to_thread(
        main, ["ingest", str(path), "--provider", provider, "--org", organization.name]
    )
    capsys.readouterr()
    assert await stats(client, organization) == module.EXPECTED
    assert await stats(client, organization, human_only=True) == module.HUMAN
