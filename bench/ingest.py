"""Ingest throughput: fresh canonical events for the dashboard campaign's recipients, and the
plain-SQL floor writing the same kind of rows and updates in one transaction a batch."""

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.organization import DOMAINS, LINK_URLS, OWNERS, PLACES, GeneratedOrganization
from bench.raw import RawDatabase


class EventStream:
    """Engagement events (opens, clicks, some unsubscribes) on random recipients, each new."""

    def __init__(self, organization: GeneratedOrganization, label: str, seed: int) -> None:
        self.organization = organization
        self.label = label
        self.random = random.Random(seed)
        self.number = 0

    def event(self) -> tuple[int, dict[str, Any]]:
        """(recipient number n, the canonical event)."""
        r = self.random.random
        shape = self.organization.dashboard
        n = int(r() * shape.recipients)
        self.number += 1
        roll = r()
        kind = "OPENED" if roll < 0.7 else "CLICKED" if roll < 0.97 else "UNSUBSCRIBED"
        moment = shape.sent_at + timedelta(seconds=int(r() * 47 * 3600))
        country, city = PLACES[n % len(PLACES)]
        event: dict[str, Any] = {
            "id": f"{self.label}-{self.number}",
            "type": kind,
            "occurredAt": moment.isoformat().replace("+00:00", "Z"),
            "campaign": "campaign-0",
            "contact": {"email": f"person{n}@{DOMAINS[n % len(DOMAINS)]}"},
            "variant": "A" if n % 2 == 0 else "B",
            "country": country,
            "city": city,
            "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
            "ip": "203.0.113.7",
        }
        if kind == "CLICKED":
            event["url"] = LINK_URLS[int(r() * r() * len(LINK_URLS))]
        return n, event

    def batch(self, size: int) -> list[dict[str, Any]]:
        return [self.event()[1] for _ in range(size)]

    def numbered_batch(self, size: int) -> list[tuple[int, dict[str, Any]]]:
        return [self.event() for _ in range(size)]


TIMELINE_FIELD = {"OPENED": "opens", "CLICKED": "clicks", "UNSUBSCRIBED": "unsubscribed"}


class PlainIngest:
    """The floor: the same responses rows, recipient updates and aggregate upserts, set-based
    with the plain driver in one transaction (no history read, no fold: a lower bound)."""

    def __init__(
        self, raw: RawDatabase, organization: GeneratedOrganization, link_ids: list[int]
    ) -> None:
        self.raw = raw
        self.organization = organization
        self.links = dict(zip(LINK_URLS, link_ids, strict=True))

    async def apply(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        organization = self.organization
        shape = organization.dashboard
        now = datetime.now(UTC)
        responses = []
        recipients: dict[int, list[Any]] = {}
        stats: Counter[tuple[int, int, int, str]] = Counter()
        timeline: Counter[tuple[int, int, datetime, str]] = Counter()
        engagement: Counter[tuple[int, str, str, str]] = Counter()
        link_stats: Counter[tuple[int, int]] = Counter()
        clickers: Counter[tuple[int, int]] = Counter()
        for n, event in batch:
            kind = event["type"]
            moment = datetime.fromisoformat(event["occurredAt"])
            contact_id = organization.first_contact_id + n
            recipient_id = organization.first_recipient_id + n
            variant_id = shape.variant_ids[n % 2]
            owner_id = organization.owner_ids[n % OWNERS]
            link_id = self.links.get(event.get("url", ""))
            responses.append(
                (
                    organization.id,
                    shape.id,
                    contact_id,
                    recipient_id,
                    variant_id,
                    link_id,
                    kind,
                    moment,
                    now,
                    "TRACKED",
                    f"canonical:{event['id']}",
                    "canonical",
                    event["country"],
                    event["city"],
                    event["userAgent"],
                    event["ip"],
                    False,
                    False,
                )  # fmt: skip
            )
            update = recipients.setdefault(recipient_id, [0, 0, moment])
            update[0] += kind == "OPENED"
            update[1] += kind == "CLICKED"
            update[2] = max(update[2], moment)
            field = TIMELINE_FIELD[kind]
            stats[(shape.id, variant_id, owner_id, field)] += 1
            bucket = moment.replace(minute=moment.minute - moment.minute % 15, second=0)
            timeline[(shape.id, variant_id, bucket, field)] += 1
            if kind != "UNSUBSCRIBED":
                for dimension, value in (("COUNTRY", event["country"]), ("CITY", event["city"])):
                    engagement[(shape.id, dimension, value, field)] += 1
            if link_id is not None:
                link_stats[(link_id, variant_id)] += 1
                clickers[(link_id, contact_id)] += 1

        raw = self.raw
        await raw.begin()
        await raw.execute_many(
            "INSERT INTO responses (organization_id, campaign_id, contact_id, recipient_id, "
            "variant_id, link_id, type, occurred_at, recorded_at, source, event_key, provider, "
            "country, city, user_agent, ip, machine, bot) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            responses,
        )
        await raw.execute_many(
            "UPDATE recipients SET opens = opens + ?, clicks = clicks + ?, "
            "latest_response_at = ?, updated_at = ? WHERE id = ?",
            [
                (opens, clicks, latest, now, rid)
                for rid, (opens, clicks, latest) in sorted(recipients.items())
            ],
        )
        # The stats rows exist (every recipient counts from its creation): plain updates.
        await raw.execute_many(
            "UPDATE campaign_stats SET opens = opens + ?, clicks = clicks + ?, "
            "unsubscribed = unsubscribed + ?, updated_at = ? "
            "WHERE campaign_id = ? AND variant_id = ? AND owner_id = ?",
            [
                (
                    stats[key + ("opens",)],
                    stats[key + ("clicks",)],
                    stats[key + ("unsubscribed",)],
                    now,
                    *key,
                )  # fmt: skip
                for key in sorted({key[:3] for key in stats})
            ],
        )
        await raw.execute_many(
            "INSERT INTO timeline_buckets (campaign_id, variant_id, bucket_start, sent, delivered, "
            "opens, clicks, bounced, unsubscribed) VALUES (?, ?, ?, 0, 0, ?, ?, 0, ?) "
            "ON CONFLICT (campaign_id, variant_id, bucket_start) DO UPDATE SET "
            "opens = timeline_buckets.opens + excluded.opens, "
            "clicks = timeline_buckets.clicks + excluded.clicks, "
            "unsubscribed = timeline_buckets.unsubscribed + excluded.unsubscribed",
            [
                (
                    *key,
                    timeline[key + ("opens",)],
                    timeline[key + ("clicks",)],
                    timeline[key + ("unsubscribed",)],
                )  # fmt: skip
                for key in sorted({key[:3] for key in timeline})
            ],
        )
        await raw.execute_many(
            "INSERT INTO engagement_stats (campaign_id, dimension, value, opens, opened, clicks, "
            "clicked) VALUES (?, ?, ?, ?, 0, ?, 0) ON CONFLICT (campaign_id, dimension, value) "
            "DO UPDATE SET opens = engagement_stats.opens + excluded.opens, "
            "clicks = engagement_stats.clicks + excluded.clicks",
            [
                (*key, engagement[key + ("opens",)], engagement[key + ("clicks",)])
                for key in sorted({key[:3] for key in engagement})
            ],
        )
        if link_stats:
            await raw.execute_many(
                "INSERT INTO link_stats (link_id, variant_id, clicks, clicked) VALUES (?, ?, ?, 0) "
                "ON CONFLICT (link_id, variant_id) DO UPDATE SET clicks = link_stats.clicks + excluded.clicks",
                sorted((link, variant, amount) for (link, variant), amount in link_stats.items()),
            )
            await raw.execute_many(
                "INSERT INTO link_clicker_stats (link_id, contact_id, clicks) VALUES (?, ?, ?) "
                "ON CONFLICT (link_id, contact_id) DO UPDATE SET clicks = link_clicker_stats.clicks + excluded.clicks",
                sorted((link, contact, amount) for (link, contact), amount in clickers.items()),
            )
        await raw.commit()
