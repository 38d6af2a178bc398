"""Ingest adds the change in a recipient's contribution, computed from what changed
(`contribution_change`); it must equal the plain difference of the two whole contributions for
any history: events added, removed (deleted), re-flagged as machine or bot, or moved to another
variant or owner."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.enums import ResponseType
from app.ingest.contributions import (
    RecipientContext,
    contribution,
    contribution_change,
    difference,
)
from app.ingest.history import HistoryEntry

START = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)


@st.composite
def entries(draw: st.DrawFn, entry_id: int) -> HistoryEntry:
    kind = draw(st.sampled_from(list(ResponseType)))
    return HistoryEntry(
        id=entry_id,
        type=kind,
        occurred_at=START + timedelta(minutes=draw(st.integers(0, 600))),
        link_id=draw(st.sampled_from([None, 1, 2])) if kind is ResponseType.CLICKED else None,
        amount_cents=draw(st.integers(0, 5000)) if kind is ResponseType.PURCHASED else None,
        bounce_type=draw(st.sampled_from(["HARD", "SOFT"]))
        if kind is ResponseType.BOUNCED
        else None,
        machine=draw(st.booleans()),
        bot=draw(st.booleans()),
        country=draw(st.sampled_from([None, "NL", "DE"])),
        city=draw(st.sampled_from([None, "Amsterdam"])),
        email_client=draw(st.sampled_from([None, "Gmail", "Apple Mail"])),
        device=draw(st.sampled_from([None, "Desktop"])),
    )


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[HistoryEntry], list[HistoryEntry]]:
    """A history before and after a change: some entries kept (maybe re-flagged), some removed,
    some added."""
    before = [draw(entries(number)) for number in range(draw(st.integers(0, 8)))]
    after = []
    for entry in before:
        fate = draw(st.sampled_from(["keep", "keep", "drop", "reflag"]))
        if fate == "keep":
            after.append(entry)
        elif fate == "reflag":
            after.append(
                HistoryEntry(**{**_fields(entry), "bot": not entry.bot, "machine": entry.machine})
            )
    after += [draw(entries(100 + number)) for number in range(draw(st.integers(0, 4)))]
    return before, draw(st.permutations(after))


def _fields(entry: HistoryEntry) -> dict[str, object]:
    return {name: getattr(entry, name) for name in HistoryEntry.__slots__}


def context(variant_id: int | None, owner_id: int | None) -> RecipientContext:
    return RecipientContext(
        campaign_id=7, variant_id=variant_id, owner_id=owner_id, contact_id=3, email="a@b.nl"
    )


@settings(max_examples=400, deadline=None)
@given(
    histories(),
    st.sampled_from([None, 1]),
    st.sampled_from([None, 1, 2]),
    st.sampled_from([None, 5]),
)
def test_change_equals_the_difference_of_whole_contributions(
    change: tuple[list[HistoryEntry], list[HistoryEntry]],
    old_variant: int | None,
    new_variant: int | None,
    owner: int | None,
) -> None:
    before, after = change
    old_context, new_context = context(old_variant, owner), context(new_variant, owner)
    expected = difference(contribution(new_context, after), contribution(old_context, before))
    assert contribution_change(old_context, before, new_context, after) == expected


def test_a_new_click_changes_only_what_it_adds() -> None:
    """Worked by hand: a recipient who opened once (NL, Gmail) clicks link 1 from NL."""
    opened = HistoryEntry(
        id=1, type=ResponseType.OPENED, occurred_at=START, country="NL", email_client="Gmail"
    )
    clicked = HistoryEntry(
        id=2,
        type=ResponseType.CLICKED,
        occurred_at=START + timedelta(minutes=20),
        link_id=1,
        country="NL",
    )
    ctx = context(None, None)
    change = contribution_change(ctx, [opened], ctx, [opened, clicked])
    assert change[("campaign_stats", (7, 0, 0))] == {
        "clicked": 1,
        "clicks": 1,
        "human_clicked": 1,
        "funnel_clicked": 1,
        "funnel_opened": -1,
    }
    assert change[("timeline_buckets", (7, 0, START + timedelta(minutes=15)))] == {"clicks": 1}
    # Already an opener in NL and b.nl: only the click counts are new there.
    assert change[("engagement_stats", (7, "COUNTRY", "NL"))] == {"clicks": 1, "clicked": 1}
    assert change[("engagement_stats", (7, "EMAIL_DOMAIN", "b.nl"))] == {"clicks": 1, "clicked": 1}
    assert ("engagement_stats", (7, "EMAIL_CLIENT", "Gmail")) not in change
    assert change[("link_stats", (1, 0))] == {"clicks": 1, "clicked": 1}
    assert change[("link_clicker_stats", (1, 3))] == {"clicks": 1}
    assert len(change) == 6


def test_history_rows_are_read_in_the_entry_field_order() -> None:
    """history_entry reads rows by position: HISTORY_COLUMNS must list HistoryEntry's fields in
    order, with the recipient id second."""
    from app.ingest.refold import HISTORY_COLUMNS, history_entry

    names = [column.key for column in HISTORY_COLUMNS]
    assert names[1] == "recipient_id"
    assert names[:1] + names[2:] == list(HistoryEntry.__slots__)
    row = (9, 4, "CLICKED", START, 2, None, None, None, None, None, 0, 1, "NL", "Amsterdam")
    row += ("Gmail", "Desktop", "Chrome", "Windows", "key-9")
    entry = history_entry(row)
    assert entry == HistoryEntry(
        id=9, type=ResponseType.CLICKED, occurred_at=START, link_id=2, bot=True, country="NL",
        city="Amsterdam", email_client="Gmail", device="Desktop", browser="Chrome", os="Windows",
    )  # fmt: skip
