"""Re-apply the current machine/bot rules to the stored history, refold what moved, and say what moved.

The rules change (a new scanner agent, a new proxy range: app/ingest/automation.py, RULE_VERSION).
`reclassify` reads each campaign's recipients in batches, classifies every non-deleted open and
click of a recipient's whole history again (the click-burst rule needs all of it), stores the new
reason, flag and rule version, and refolds the recipients whose flags changed, so every aggregate
moves by exactly the change (app/ingest/refold.py). Each batch is one write transaction with its
recipients locked, like ingest. A dry run reads and counts the same without writing.

Responses stored before rule versions (rule_version NULL) kept only a combined flag; their
sender's flag is inferred from it (automation.inferred_report) and stored from then on.
"""

import dataclasses
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app import versions
from app.database import Database, in_chunks
from app.enums import ResponseType
from app.ingest.automation import (
    RULE_VERSION,
    Observed,
    classify,
    inferred_report,
    scanner_click_ids,
)
from app.ingest.contributions import RecipientContext
from app.ingest.history import HistoryEntry
from app.ingest.refold import load_histories, lock_recipients, refold_recipients
from app.models import Recipient, Response

T = ResponseType
HUMAN = "human"  # the "reason" of an open or click that counts as a person's
BATCH_RECIPIENTS = 500

CLASSIFICATION_COLUMNS = (
    Response.id,
    Response.recipient_id,
    Response.type,
    Response.occurred_at,
    Response.link_id,
    Response.user_agent,
    Response.ip,
    Response.reported,
    Response.machine,
    Response.bot,
    Response.classified_by,
    Response.rule_version,
)


@dataclass
class ReclassifyReport:
    """What a run changed (or, dry, would change)."""

    examined: int = 0  # non-deleted opens and clicks read
    restamped: int = 0  # responses written (reason, flag, sender's flag or rule version)
    recipients_refolded: int = 0
    campaign_ids: set[int] = field(default_factory=set)  # campaigns whose statistics moved
    # (OPENED or CLICKED, reason before, reason after) -> count; HUMAN for a person's
    moved: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def to_automated(self) -> dict[str, dict[str, int]]:
        """Per reason, the opens and clicks moved from a person's to set aside."""
        return self._between(lambda before, after: before == HUMAN and after != HUMAN, 2)

    def to_human(self) -> dict[str, dict[str, int]]:
        """Per former reason, the opens and clicks moved back to a person's."""
        return self._between(lambda before, after: before != HUMAN and after == HUMAN, 1)

    def reason_changes(self) -> dict[tuple[str, str, str], int]:
        """(OPENED or CLICKED, reason before, reason after) of what stays set aside for another
        reason (e.g. REPORTED rows from before rule versions, now explained by a rule)."""
        return {
            key: count for key, count in sorted(self.moved.items()) if HUMAN not in (key[1], key[2])
        }

    def _between(self, chosen: Any, reason_at: int) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for key, count in self.moved.items():
            if chosen(key[1], key[2]):
                counts = found.setdefault(key[reason_at], {"opens": 0, "clicks": 0})
                counts["opens" if key[0] == T.OPENED.value else "clicks"] += count
        return dict(sorted(found.items()))


@dataclass(frozen=True)
class _Row:
    """One stored open or click with its classification columns."""

    observed: Observed
    flagged: bool
    classified_by: str | None
    rule_version: int | None


def _row(row: Any) -> _Row:
    kind = ResponseType(row.type)
    return _Row(
        observed=Observed(
            id=row.id,
            type=kind,
            occurred_at=row.occurred_at,
            link_id=row.link_id,
            user_agent=row.user_agent,
            ip=row.ip,
            reported=row.reported,
        ),
        flagged=bool(row.machine if kind is T.OPENED else row.bot),
        classified_by=row.classified_by,
        rule_version=row.rule_version,
    )


def reclassified(rows: list[_Row], all_history: Iterable[Observed]) -> list[dict[str, Any]]:
    """The new columns of each open or click of one recipient whose stored ones differ.

    `all_history` is the recipient's whole non-deleted history (anchors for the click burst).
    """
    history = list(all_history)
    burst = scanner_click_ids(history)
    observed: dict[int, Observed] = {e.id: e for e in history}
    for row in rows:
        if row.rule_version is None:  # before flags were kept apart: infer the sender's
            e = row.observed
            reported = inferred_report(e.type, row.flagged, e.user_agent, e.ip, e.id in burst)
            observed[e.id] = dataclasses.replace(e, reported=reported)
    reasons = classify(observed.values())
    changes = []
    for row in rows:
        reason = reasons.get(row.observed.id)
        new = {
            "classified_by": reason.value if reason else None,
            "flagged": reason is not None,
            "reported": observed[row.observed.id].reported,
            "rule_version": RULE_VERSION,
        }
        old = {
            "classified_by": row.classified_by,
            "flagged": row.flagged,
            "reported": row.observed.reported,
            "rule_version": row.rule_version,
        }
        if new != old:
            changes.append({"response_key": row.observed.id, "type": row.observed.type} | new)
    return changes


async def _batch(
    connection: AsyncConnection, recipient_ids: list[int], report: ReclassifyReport, write: bool
) -> None:
    """Reclassify the histories of a batch of recipients (locked first when writing)."""
    contexts: dict[int, RecipientContext] = {}
    if write:
        contexts = await lock_recipients(connection, recipient_ids)
    stored: dict[int, list[_Row]] = {rid: [] for rid in recipient_ids}
    anchors: dict[int, list[Observed]] = {rid: [] for rid in recipient_ids}
    for chunk in in_chunks(recipient_ids):
        result = await connection.execute(
            select(*CLASSIFICATION_COLUMNS).where(
                Response.recipient_id.in_(chunk),
                Response.deleted_at.is_(None),
                Response.type.in_(
                    [T.OPENED.value, T.CLICKED.value, T.SENT.value, T.DELIVERED.value]
                ),
            )
        )
        for db_row in result:
            row = _row(db_row)
            anchors[db_row.recipient_id].append(row.observed)
            if row.observed.type in (T.OPENED, T.CLICKED):
                stored[db_row.recipient_id].append(row)
    changes: list[dict[str, Any]] = []
    refold: dict[int, dict[int, bool]] = {}  # recipient -> response id -> new flag
    for rid in recipient_ids:
        report.examined += len(stored[rid])
        before = {row.observed.id: row for row in stored[rid]}
        for change in reclassified(stored[rid], anchors[rid]):
            changes.append(change)
            old = before[change["response_key"]]
            moved = (old.classified_by or HUMAN) if old.flagged else HUMAN
            now_as = change["classified_by"] or HUMAN
            if moved != now_as:
                report.moved[(change["type"].value, moved, now_as)] += 1
            if change["flagged"] != old.flagged:
                refold.setdefault(rid, {})[change["response_key"]] = change["flagged"]
    report.restamped += len(changes)
    report.recipients_refolded += len(refold)
    if not write or not changes:
        return
    histories = await load_histories(connection, refold)
    before_histories: dict[int, tuple[RecipientContext, list[HistoryEntry]]] = {}
    after_histories: dict[int, tuple[RecipientContext, list[HistoryEntry]]] = {}
    for rid, flags in refold.items():
        history = histories.get(rid, [])
        before_histories[rid] = (contexts[rid], history)
        after_histories[rid] = (contexts[rid], [_with_flag(e, flags.get(e.id)) for e in history])
    for kind, column in ((T.OPENED, "machine"), (T.CLICKED, "bot")):
        rows = [
            {
                "response_key": c["response_key"],
                column: c["flagged"],
                "classified_by": c["classified_by"],
                "reported": c["reported"],
                "rule_version": c["rule_version"],
            }
            for c in changes
            if c["type"] is kind
        ]
        if rows:
            await connection.execute(
                update(Response)
                .where(Response.id == bindparam("response_key"))
                .values(
                    {
                        name: bindparam(name)
                        for name in (column, "classified_by", "reported", "rule_version")
                    }
                ),
                rows,
            )
    await refold_recipients(connection, before_histories, after_histories, datetime.now(UTC))
    report.campaign_ids |= {contexts[rid].campaign_id for rid in refold}
    recipient_of = {row.observed.id: rid for rid in recipient_ids for row in stored[rid]}
    restamped = {contexts[recipient_of[change["response_key"]]].campaign_id for change in changes}
    await versions.bump_campaigns(connection, restamped)  # issue 14


def _with_flag(entry: HistoryEntry, flag: bool | None) -> HistoryEntry:
    if flag is None:
        return entry
    if entry.type is T.OPENED:
        return dataclasses.replace(entry, machine=flag)
    return dataclasses.replace(entry, bot=flag)


async def reclassify(
    database: Database,
    campaign_id: int | None = None,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_RECIPIENTS,
) -> ReclassifyReport:
    """Reclassify every campaign's (or one campaign's) history under the current rules."""
    report = ReclassifyReport()
    async with database.read() as connection:
        statement = select(Recipient.id).order_by(Recipient.id)
        if campaign_id is not None:
            statement = statement.where(Recipient.campaign_id == campaign_id)
        recipient_ids = list((await connection.execute(statement)).scalars())
    for start in range(0, len(recipient_ids), batch_size):
        batch = recipient_ids[start : start + batch_size]
        if dry_run:
            async with database.read() as connection:
                await _batch(connection, batch, report, write=False)
        else:
            async with database.write() as connection:
                await _batch(connection, batch, report, write=True)
    return report
