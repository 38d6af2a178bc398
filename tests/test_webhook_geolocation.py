"""Country and city from a MaxMind-format database when the provider gives none (GEOIP_DATABASE)."""

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from app.ingest.geolocation import Geolocator, with_place
from app.main import create_app
from app.settings import Settings
from tests.factories import graphql, make_campaign
from tests.test_webhook_sendgrid import PUBLIC_KEY, sendgrid_event, signed
from tests.webhook_helpers import configure


@pytest.fixture
def geoip_database(tmp_path: Path) -> str:
    """A tiny City database: 192.0.2.0/24 is Amsterdam, 198.51.100.0/24 is somewhere in Belgium."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    writer.insert_network(
        IPSet(["192.0.2.0/24"]),
        {
            "country": {"iso_code": "NL", "names": {"en": "Netherlands"}},
            "city": {"names": {"en": "Amsterdam"}},
        },
    )
    writer.insert_network(
        IPSet(["198.51.100.0/24"]), {"country": {"iso_code": "BE", "names": {"en": "Belgium"}}}
    )
    path = tmp_path / "tiny-city.mmdb"
    writer.to_db_file(str(path))
    return str(path)


def test_the_database_names_country_and_city(geoip_database: str) -> None:
    geolocator = Geolocator(geoip_database)
    assert geolocator.locate("192.0.2.7") == ("NL", "Amsterdam")
    assert geolocator.locate("198.51.100.1") == ("BE", None)
    assert geolocator.locate("203.0.113.1") == (None, None)
    assert geolocator.locate("not an ip") == (None, None)
    # A provider's own geolocation wins over the database.
    event = {"ip": "192.0.2.7", "country": "US", "city": "San Francisco"}
    assert with_place(event, geolocator) == event
    assert with_place({"ip": "192.0.2.7"}, geolocator) == {
        "ip": "192.0.2.7",
        "country": "NL",
        "city": "Amsterdam",
    }
    assert with_place({"ip": "192.0.2.7"}, None) == {"ip": "192.0.2.7"}


async def test_webhook_events_get_a_place_from_their_ip(
    database, database_url, organization, geoip_database
) -> None:
    app = create_app(Settings(database_url=database_url, geoip_database=geoip_database), database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        await configure(database, organization, "sendgrid", {"public_key": PUBLIC_KEY})
        await make_campaign(client, organization, "spring")
        opens: list[Any] = [
            sendgrid_event(
                "open",
                "ann@example.com",
                60,
                101,
                useragent="Mozilla/5.0 (Windows NT 10.0)",
                ip="192.0.2.7",
            ),
            sendgrid_event(
                "open",
                "bob@example.com",
                60,
                102,
                useragent="Mozilla/5.0 (Windows NT 10.0)",
                ip="198.51.100.9",
            ),
            sendgrid_event(
                "open",
                "cy@example.com",
                60,
                103,
                useragent="Mozilla/5.0 (Windows NT 10.0)",
                ip="203.0.113.1",
            ),
        ]
        body = orjson.dumps(opens)
        response = await client.post(
            f"/webhooks/sendgrid/{organization.name}", content=body, headers=signed(body)
        )
        assert response.status_code == 200, response.text
        query = """query { campaign(externalId: "spring") {
            countries: engagement(dimension: COUNTRY) { value opened }
            cities: engagement(dimension: CITY) { value opened } } }"""
        data = (await graphql(client, organization, query))["data"]["campaign"]
        assert sorted((row["value"], row["opened"]) for row in data["countries"]) == [
            ("BE", 1),
            ("NL", 1),
        ]
        assert [(row["value"], row["opened"]) for row in data["cities"]] == [("Amsterdam", 1)]
