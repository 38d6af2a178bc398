"""Settings, read once from the environment (each one is documented in the README)."""

import os
from dataclasses import dataclass, field

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./campaign-graph.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    # Requests larger than this are refused before parsing (bytes).
    max_body_bytes: int = 10 * 1024 * 1024
    # Events in one POST /events batch.
    max_batch_events: int = 10_000
    log_level: str = "INFO"
    # Signs own tracking tokens (GET /t/o/..., /t/c/...); tracking answers 503 while unset.
    tracking_secret: str | None = None
    # A MaxMind-format database (e.g. GeoLite2-City.mmdb): country and city of events' IPs.
    geoip_database: str | None = None
    # Bearer token Prometheus sends to GET /metrics; /metrics answers 404 while unset.
    metrics_token: str | None = None
    # The response cache's bound (bytes of answers kept per process); 0 turns it off.
    response_cache_bytes: int = 64 * 1024 * 1024
    # The most staleness a client may opt into (Cache-Control: max-stale=N, @cached(maxAge: N)).
    max_stale_seconds: int = 60
    # Automatic persisted queries: bytes of documents kept per process.
    persisted_query_bytes: int = 4 * 1024 * 1024
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environment(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            max_body_bytes=int(os.environ.get("MAX_BODY_BYTES", 10 * 1024 * 1024)),
            max_batch_events=int(os.environ.get("MAX_BATCH_EVENTS", 10_000)),
            log_level=os.environ.get("LOG_LEVEL", "INFO"),
            tracking_secret=os.environ.get("TRACKING_SECRET") or None,
            geoip_database=os.environ.get("GEOIP_DATABASE") or None,
            metrics_token=os.environ.get("METRICS_TOKEN") or None,
            response_cache_bytes=int(os.environ.get("RESPONSE_CACHE_BYTES", 64 * 1024 * 1024)),
            max_stale_seconds=int(os.environ.get("MAX_STALE_SECONDS", 60)),
            persisted_query_bytes=int(os.environ.get("PERSISTED_QUERY_BYTES", 4 * 1024 * 1024)),
        )
