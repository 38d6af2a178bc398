"""What ingest adds to an event before storing it: client details from the user agent, and
whether an open was made by a machine or a click by a scanner.

Each part lives in a module of its own; this is where they meet.
"""

from dataclasses import dataclass

from app.enums import ResponseType
from app.ingest import automation, user_agent
from app.ingest.events import CanonicalEvent


@dataclass(frozen=True, slots=True)
class Enrichment:
    email_client: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    machine: bool = False
    bot: bool = False
    # Why an open or click is set aside (None: a person's), and what the event itself said.
    reason: automation.ClassificationReason | None = None
    reported: bool | None = None


def enrich(event: CanonicalEvent) -> Enrichment:
    """Client details and machine/bot flags of one event (the sender's flags win when given)."""
    client = user_agent.client_details(event.user_agent)
    kind = event.type
    reported = (
        event.machine
        if kind is ResponseType.OPENED
        else event.bot
        if kind is ResponseType.CLICKED
        else None
    )
    reason = automation.event_reason(kind, event.user_agent, event.ip, reported)
    return Enrichment(
        email_client=client.email_client,
        device=client.device,
        browser=client.browser,
        os=client.os,
        machine=(
            event.machine
            if event.machine is not None
            else kind is ResponseType.OPENED and reason is not None
        ),
        bot=event.bot
        if event.bot is not None
        else kind is ResponseType.CLICKED and reason is not None,
        reason=reason,
        reported=reported,
    )
