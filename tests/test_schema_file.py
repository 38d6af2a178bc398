"""docs/schema.graphql, the SDL users read without running the app, is what the app serves."""

import difflib
from pathlib import Path

import pytest

from app.cli import main

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "docs" / "schema.graphql"
REGENERATE = ".venv/bin/campaign-graph schema > docs/schema.graphql"


def printed_schema(capsys: pytest.CaptureFixture[str]) -> str:
    """What `campaign-graph schema` prints, run in this process."""
    main(["schema"])
    return capsys.readouterr().out


def test_the_checked_in_schema_is_the_one_the_app_serves(capsys):
    served = printed_schema(capsys)
    checked_in = SCHEMA_FILE.read_text(encoding="utf-8")
    if served != checked_in:
        diff = "".join(
            list(
                difflib.unified_diff(
                    checked_in.splitlines(keepends=True),
                    served.splitlines(keepends=True),
                    "docs/schema.graphql",
                    "campaign-graph schema",
                )
            )[:60]
        )
        pytest.fail(
            f"docs/schema.graphql is out of date; regenerate it with\n    {REGENERATE}\n"
            f"and commit it. The difference:\n{diff}"
        )


def test_the_schema_file_names_the_roots_and_the_dashboard_types():
    # A file emptied or cut short by a failed regeneration still shows what users look up.
    text = SCHEMA_FILE.read_text(encoding="utf-8")
    for definition in (
        "type Query {",
        "type Mutation {",
        "type Subscription {",
        "type Campaign implements Node {",
        "type Stats {",
        "type Recipient implements Node {",
        "type Contact implements Node {",
        "type Response implements Node {",
    ):
        assert definition in text, f"{definition!r} is missing; regenerate: {REGENERATE}"
