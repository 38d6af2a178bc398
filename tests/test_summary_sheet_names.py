"""summary.xlsx with record owners whose names make bad worksheet names.

Owner sheets are named "Owner <name> <email>" (a new owner's name is its email's local part),
cut to Excel's 31 characters. Four owners with their recipients (each only SENT):
- o'brien: 24 o's then an apostrophe, which lands on character 31 -> 1 recipient
- 30 p's then 1, and 30 p's then 2: the same first 31 characters -> 2 and 3 recipients
- a[b]:c*d?e/f\\g: every character Excel forbids -> 4 recipients
- no owner -> 5 recipients
"""

from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter

from app.exports.summary import sheet_name
from tests.factories import add_recipients, event, make_campaign, post_events

OBRIEN = "o" * 24 + "'brien@corp.example"
P1 = "p" * 30 + "1@corp.example"
P2 = "p" * 30 + "2@corp.example"
FORBIDDEN = "a[b]:c*d?e/f\\g@corp.example"
OWNERS = [(OBRIEN, 1), (P1, 2), (P2, 3), (FORBIDDEN, 4), (None, 5)]


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        # Cut to 31 characters, the 31st an apostrophe: dropped.
        (["x" * 30 + "'yz"], ["x" * 30]),
        # Apostrophes first and last, spaces around them.
        (["'quoted'", " ' spaced ' "], ["quoted", "spaced"]),
        # Empty, or nothing left after cleaning.
        (["", "'''", "   "], ["Sheet", "Sheet (2)", "Sheet (3)"]),
        # Forbidden characters and a line break.
        (["a[b]:c*d?e/f\\g", "tab\there\nnew"], ["a_b__c_d_e_f_g", "tab_here_new"]),
        # The same after truncation, and the same but for case.
        (["y" * 40, "y" * 35, "Y" * 31], ["y" * 31, "y" * 27 + " (2)", "Y" * 27 + " (3)"]),
        # A numbered name whose cut ends in an apostrophe loses it too.
        (["z" * 26 + "'abcdX", "z" * 26 + "'abcdY"], ["z" * 26 + "'abcd", "z" * 26 + " (2)"]),
        # "History" is reserved by Excel, whatever its case.
        (["History", "HISTORY"], ["History (2)", "HISTORY (3)"]),
    ],
)
def test_sheet_names_follow_excels_rules(titles: list[str], expected: list[str], tmp_path: Path):
    taken: set[str] = set()
    names = [sheet_name(title, taken) for title in titles]
    assert names == expected
    # xlsxwriter (which enforces the same rules) accepts them, and openpyxl reads them back.
    path = tmp_path / "names.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    for name in names:
        workbook.add_worksheet(name)
    workbook.close()
    assert openpyxl.load_workbook(path, read_only=True).sheetnames == names


def metric_table(sheet: Any) -> tuple[str, dict[str, Any]]:
    """An owner sheet's section title and its Metric -> Count rows."""
    rows = list(sheet.iter_rows(values_only=True))
    title = rows[0][0]
    return title, {row[0]: row[1] for row in rows[2:] if row and row[0] is not None}


async def test_nasty_owner_names_give_valid_unique_sheets(client, organization, tmp_path):
    campaign_id = await make_campaign(client, organization, "nasty")
    events = []
    for owner, count in OWNERS:
        name = (owner or "none").split("@")[0]
        contacts = []
        for number in range(count):
            email = f"{len(events)}@example.com"
            contact: dict[str, Any] = {"email": email, "name": f"{name} {number}"}
            if owner is not None:
                contact["ownerEmail"] = owner
            contacts.append(contact)
            events.append(event("SENT", email, campaign="nasty", id=f"sent-{len(events)}"))
        await add_recipients(client, organization, campaign_id, contacts)
    response = await post_events(client, organization, events)
    assert response.status_code == 200, response.text

    response = await client.get(
        f"/exports/campaigns/{campaign_id}/summary.xlsx", headers=organization.headers()
    )
    assert response.status_code == 200, response.text
    path = tmp_path / "summary.xlsx"
    path.write_bytes(response.content)
    workbook = openpyxl.load_workbook(path, read_only=True)

    obrien = "Owner " + "o" * 24  # the apostrophe at 31 is dropped
    p1 = "Owner " + "p" * 25
    p2 = "Owner " + "p" * 21 + " (2)"
    forbidden = "Owner a_b__c_d_e_f_g <a_b__c_d_"
    owner_sheets = {obrien, p1, p2, forbidden, "Owner No owner"}
    assert workbook.sheetnames[0] == "Summary"
    assert workbook.sheetnames[-2:] == ["Variants", "Links"]
    assert set(workbook.sheetnames[1:-2]) == owner_sheets
    assert len(workbook.sheetnames) == 8

    # Each sheet holds its own owner's numbers.
    expected = {
        obrien: ("o" * 24 + "'brien <" + OBRIEN + ">", 1),
        p1: ("p" * 30 + "1 <" + P1 + ">", 2),
        p2: ("p" * 30 + "2 <" + P2 + ">", 3),
        forbidden: ("a[b]:c*d?e/f\\g <" + FORBIDDEN + ">", 4),
        "Owner No owner": ("No owner", 5),
    }
    for sheet, (title, count) in expected.items():
        found_title, table = metric_table(workbook[sheet])
        assert found_title == title
        assert table["Recipients"] == count
        assert table["Sent"] == count
