"""Country and city of an IP address from a MaxMind-format database (GEOIP_DATABASE).

Used only when an event names no place of its own: a provider's geolocation (Mailgun, Postmark)
wins. The database is read with `maxminddb` (memory-mapped; one reader serves every request).
GeoLite2-City, GeoIP2-City and GeoLite2-Country files all work; the country is the ISO code.
"""

import ipaddress
from typing import Any

import maxminddb


class Geolocator:
    def __init__(self, path: str) -> None:
        self._reader = maxminddb.open_database(path)

    def locate(self, ip: str | None) -> tuple[str | None, str | None]:
        """(country ISO code, city name in English) of `ip`; Nones when unknown."""
        if not ip:
            return None, None
        try:
            record: Any = self._reader.get(ipaddress.ip_address(ip.strip()))
        except ValueError:
            return None, None
        if not isinstance(record, dict):
            return None, None
        country = (record.get("country") or {}).get("iso_code")
        city = ((record.get("city") or {}).get("names") or {}).get("en")
        return country, city

    def close(self) -> None:
        self._reader.close()


def geolocator_for(path: str | None) -> Geolocator | None:
    """The geolocator of the configured database, or None when none is configured."""
    return Geolocator(path) if path else None


def with_place(event: dict[str, Any], geolocator: Geolocator | None) -> dict[str, Any]:
    """A canonical event with country and city from its IP, when it names no country itself."""
    if geolocator is None or event.get("country") or not event.get("ip"):
        return event
    country, city = geolocator.locate(event["ip"])
    if country is None:
        return event
    return {
        **event,
        "country": country,
        **({"city": city} if city and not event.get("city") else {}),
    }
