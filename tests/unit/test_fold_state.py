"""The stored summary of a recipient's history (app/ingest/fold_state.py) folds new entries in any
order and split into batches of any size to what the whole history gives: the same recipient
state, the same click-burst flags, and the same aggregate change as `contribution_change`."""

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from app.enums import ResponseType
from app.ingest.automation import scanner_click_ids
from app.ingest.contributions import RecipientContext, contribution_change, stats_counters
from app.ingest.fold_state import (
    EMPTY,
    FoldState,
    dumps,
    fold,
    fold_change,
    loads,
    recipient_state_of,
    stats_of,
)
from app.ingest.history import HistoryEntry
from app.ingest.recipient_state import recipient_state

T = ResponseType
START = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
EXAMPLES = int(os.environ.get("CAMPAIGN_GRAPH_FOLD_EXAMPLES", "100"))
CONTEXT = RecipientContext(campaign_id=7, variant_id=2, owner_id=None, contact_id=3, email="a@B.nl")


@st.composite
def entries(draw: st.DrawFn, entry_id: int) -> HistoryEntry:
    kind = draw(st.sampled_from(list(ResponseType)))
    return HistoryEntry(
        id=entry_id,
        type=kind,
        # Seconds apart and often equal: ties and the 10-second click-burst window both happen.
        occurred_at=START + timedelta(seconds=draw(st.sampled_from([0, 0, 3, 5, 9, 12, 600]))),
        link_id=draw(st.sampled_from([None, 1, 2])) if kind is T.CLICKED else None,
        amount_cents=draw(st.integers(0, 5000)) if kind is T.PURCHASED else None,
        bounce_type=draw(st.sampled_from(["HARD", "SOFT", None])) if kind is T.BOUNCED else None,
        bounce_category=draw(st.sampled_from([None, "MAILBOX_FULL"])),
        bounce_diagnostic=draw(st.sampled_from([None, "550"])),
        skip_reason=draw(st.sampled_from([None, "UNSUBSCRIBED", "OTHER"])),
        machine=draw(st.booleans()),
        bot=draw(st.booleans()),
        country=draw(st.sampled_from([None, "NL", "DE"])),
        city=draw(st.sampled_from([None, "Amsterdam"])),
        email_client=draw(st.sampled_from([None, "Gmail"])),
        device=draw(st.sampled_from([None, "Desktop"])),
    )


@st.composite
def histories(draw: st.DrawFn) -> list[HistoryEntry]:
    return [draw(entries(number)) for number in range(draw(st.integers(0, 12)))]


@st.composite
def batches(draw: st.DrawFn) -> list[list[HistoryEntry]]:
    """A history in a random order, cut into random batches."""
    history = draw(st.permutations(draw(histories())))
    cuts = sorted(draw(st.lists(st.integers(0, len(history)), max_size=4)))
    edges = [0, *cuts, len(history)]
    return [history[a:b] for a, b in zip(edges, edges[1:], strict=False)]


@settings(max_examples=EXAMPLES, deadline=None)
@given(histories())
def test_the_summary_gives_the_state_of_the_whole_history(history: list[HistoryEntry]) -> None:
    assert recipient_state_of(fold(history)) == recipient_state(history)
    assert stats_of(fold(history)) == stats_counters(recipient_state(history))


@settings(max_examples=EXAMPLES, deadline=None)
@given(batches())
def test_folding_batch_by_batch_in_any_order_equals_folding_the_whole(
    parts: list[list[HistoryEntry]],
) -> None:
    whole = [entry for part in parts for entry in part]
    state = FoldState()
    for part in parts:
        state = fold(part, loads(dumps(state)))  # stored and read back between batches
    assert state == fold(sorted(whole, key=lambda entry: entry.id))
    assert dumps(state) == dumps(fold(whole))


@settings(max_examples=EXAMPLES, deadline=None)
@given(histories(), histories())
def test_the_change_of_a_batch_equals_contribution_change(
    old: list[HistoryEntry], new: list[HistoryEntry]
) -> None:
    added = [replace(entry, id=100 + entry.id) for entry in new]
    before, after = fold(old), fold(added, fold(old))
    expected = contribution_change(CONTEXT, old, CONTEXT, old + added)
    assert fold_change(CONTEXT, before, after, added) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(histories())
def test_click_bursts_are_found_from_the_summary(history: list[HistoryEntry]) -> None:
    state = fold(history)
    assert state.scanner_clicks() == scanner_click_ids(history)
    marked = state.flag_scanner_clicks()
    flagged = [replace(e, bot=True) if e.id in marked else e for e in history]
    assert marked == {e.id for e in history if e.id in scanner_click_ids(history) and not e.bot}
    assert state == fold(flagged)


def test_a_worked_example() -> None:
    """By hand: sent at 0 s, clicks on links 1 and 2 at 3 s and 5 s (a scanner), a bounce."""
    history = [
        HistoryEntry(1, T.SENT, START),
        HistoryEntry(2, T.CLICKED, START + timedelta(seconds=3), link_id=1, country="NL"),
        HistoryEntry(3, T.CLICKED, START + timedelta(seconds=5), link_id=2),
        HistoryEntry(4, T.OPENED, START + timedelta(seconds=700), machine=True),
    ]
    state = fold(history)
    assert state.flag_scanner_clicks() == {2, 3}
    result = recipient_state_of(state)
    assert (result.opens, result.machine_opens, result.clicks, result.bot_clicks) == (1, 1, 2, 2)
    assert not result.human_opened and not result.human_clicked
    assert result.first_opened_at == START + timedelta(seconds=3)
    assert result.last_opened_at == START + timedelta(seconds=700)
    assert result.latest_response_id == 4
    assert state.opened_values == state.clicked_values == {"COUNTRY:NL"}
    assert state.links == {1, 2}


def test_an_empty_summary_is_a_queued_recipient() -> None:
    empty = loads(EMPTY)
    assert empty == FoldState()
    assert empty is not None and recipient_state_of(empty) == recipient_state([])
    assert loads(None) is None
    assert loads("[0]") is None  # another version: folded again from the history
