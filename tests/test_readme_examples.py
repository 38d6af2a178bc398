"""Every fenced example of README.md runs as written, so that none can rot silently.

The fence's language says what a block is and how it is run:
- ```graphql: an operation, executed with an ADMIN key (a subscription is validated only);
- ```json variables: the variables of the GraphQL block just above it;
- ```json: a batch of canonical events, posted to /events as written;
- ```sh: commands, parsed by the command line's own argparse parsers (`make` lines: `make -n`);
- ```text: not runnable, left alone.
Any other kind, or a block without a language, fails the test.
"""

import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from graphql import OperationDefinitionNode, OperationType, parse, validate

import bench.__main__ as bench_main
from app import cli
from app.enums import Role
from schema.root import schema
from tests.factories import graphql

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
KINDS = {"graphql", "json", "json variables", "sh", "text"}
FENCE = re.compile(r"^(`{3,})\s*(.*?)\s*$")
# Placeholders the README's variables use, and what they stand for (README, "GraphQL examples").
PLACEHOLDER = re.compile(r"<([A-Z][a-z]+) id>")
CAMPAIGN = "spring-sale"
CONTACT = "ann@example.com"
# Commands the command line's parsers check; anything else in a ```sh block is refused.
CAMPAIGN_GRAPH = ("campaign-graph", ".venv/bin/campaign-graph")
BENCH = [".venv/bin/python", "-m", "bench"]
SHELL_OPERATORS = {">", ">>", "<", "|", "||", "&&", ";", "&"}


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    kind: str  # the fence's info string
    text: str

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.kind or 'no language'})"


def fenced_blocks(markdown: str) -> list[Block]:
    blocks = []
    lines = markdown.splitlines()
    number = 0
    while number < len(lines):
        opening = FENCE.match(lines[number])
        number += 1
        if opening is None:
            continue
        fence, kind, start = opening.group(1), opening.group(2), number
        body = []
        while number < len(lines) and lines[number].strip() != fence:
            body.append(lines[number])
            number += 1
        number += 1  # the closing fence
        blocks.append(Block(start, kind, "\n".join(body) + "\n"))
    return blocks


BLOCKS = fenced_blocks(README.read_text(encoding="utf-8"))


def blocks_of(kind: str) -> list[Block]:
    return [block for block in BLOCKS if block.kind == kind]


def operation_of(block: Block) -> OperationDefinitionNode:
    operations = [
        d for d in parse(block.text).definitions if isinstance(d, OperationDefinitionNode)
    ]
    assert len(operations) == 1, f"{block}: one operation a block"
    return operations[0]


def root_fields(block: Block) -> set[str]:
    return {selection.name.value for selection in operation_of(block).selection_set.selections}  # type: ignore[attr-defined]


def graphql_with_variables() -> list[tuple[Block, Block | None]]:
    """Each ```graphql block with the ```json variables block right after it, if any."""
    pairs = []
    for index, block in enumerate(BLOCKS):
        if block.kind != "graphql":
            continue
        following = BLOCKS[index + 1] if index + 1 < len(BLOCKS) else None
        pairs.append(
            (block, following if following and following.kind == "json variables" else None)
        )
    return pairs


def test_every_block_is_of_a_kind_the_test_runs():
    unknown = [str(block) for block in BLOCKS if block.kind not in KINDS]
    assert not unknown, (
        f"fenced blocks this test does not know how to run: {unknown}; "
        f"use one of {sorted(KINDS)} (```text for what is not runnable)"
    )
    paired = {id(variables) for _, variables in graphql_with_variables() if variables}
    strays = [str(block) for block in blocks_of("json variables") if id(block) not in paired]
    assert not strays, f"```json variables blocks must follow a ```graphql block: {strays}"


def test_the_readme_shows_what_dashboards_and_integrations_need():
    used = {field for block in blocks_of("graphql") for field in root_fields(block)}
    needed = {
        "campaigns",  # the campaign list
        "campaign",  # a summary, a recipients page
        "contact",  # a contact's history
        "upsertCampaign",
        "recordResponse",
        "updateResponseStatus",
        "deleteResponses",
        "campaignStats",  # a subscription
    }
    assert needed <= used, f"README.md lost the examples of {sorted(needed - used)}"
    assert "recipients(" in "".join(block.text for block in blocks_of("graphql"))
    assert blocks_of("json"), "README.md has no canonical event example"


# --- ```sh blocks -------------------------------------------------------------------------


def commands(block: Block) -> list[tuple[int, list[str]]]:
    """(line, words) of each command of a ```sh block: continuations joined, comments and
    redirections left out."""
    found = []
    pending: list[str] = []
    start = 0
    for offset, line in enumerate(block.text.splitlines(), start=1):
        if not pending:
            start = block.line + offset
        if line.rstrip().endswith("\\"):
            pending.append(line.rstrip()[:-1])
            continue
        text = " ".join([*pending, line])
        pending = []
        lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = []
        for word in lexer:
            if word in SHELL_OPERATORS:
                break
            words.append(word)
        if words:
            found.append((start, words))
    return found


SH_COMMANDS = [
    pytest.param(words, id=f"README.md:{line}")
    for block in blocks_of("sh")
    for line, words in commands(block)
]


def parse_with(parse: Any, arguments: list[str], shown: str) -> Any:
    """Parse as the program would; `--help` may exit (with 0), anything else may not."""
    try:
        return parse(arguments)
    except SystemExit as exit:
        if exit.code == 0 and "--help" in arguments:
            return None
        pytest.fail(f"{shown}: the command line refuses it (exit {exit.code})")


@pytest.mark.parametrize("words", SH_COMMANDS)
def test_a_command_of_the_readme_is_one_the_programs_take(words, capsys):
    shown = " ".join(words)
    if words[0] in CAMPAIGN_GRAPH:
        namespace = parse_with(cli.parser().parse_args, words[1:], shown)
        assert namespace is None or callable(namespace.handler), shown
    elif words[:3] == BENCH:
        parse_with(bench_main.parse_arguments, words[3:], shown)
    elif words[0] == "make":
        dry_run = subprocess.run(
            ["make", "-n", *words[1:]], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert dry_run.returncode == 0, f"{shown}: {dry_run.stderr}"
    else:
        pytest.fail(
            f"{shown}: not a command this test can check (campaign-graph, python -m bench, make); "
            "mark the block ```text if it is not meant to run"
        )


@pytest.mark.parametrize(
    ("variables", "serves"),
    [
        ([], "--host 127.0.0.1 --port 8000"),
        (["PORT=8080"], "--host 127.0.0.1 --port 8080"),
        (["HOST=0.0.0.0", "PORT=8080"], "--host 0.0.0.0 --port 8080"),
    ],
)
def test_make_run_serves_on_the_host_and_port_given(variables, serves):
    dry_run = subprocess.run(
        ["make", "-n", "run", *variables], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert dry_run.returncode == 0, dry_run.stderr
    assert f"campaign-graph serve {serves}" in dry_run.stdout


# --- ```graphql and ```json blocks, against one organization ----------------------------------


class Ids:
    """The ids the README's placeholders stand for, looked up when first needed."""

    def __init__(self, client: Any, organization: Any) -> None:
        self.client = client
        self.organization = organization
        self.found: dict[str, str] = {}

    async def lookup(self, name: str) -> str:
        if name == "Campaign":
            body = await graphql(
                self.client,
                self.organization,
                "query($e: String!) { campaign(externalId: $e) { id } }",
                {"e": CAMPAIGN},
            )
            return str(body["data"]["campaign"]["id"])
        query = """query($email: String!) {
          contact(email: $email) { id campaigns(first: 1) { edges { node { id } } } }
        }"""
        contact = (await graphql(self.client, self.organization, query, {"email": CONTACT}))[
            "data"
        ]["contact"]
        if name == "Contact":
            return str(contact["id"])
        if name == "Recipient":
            return str(contact["campaigns"]["edges"][0]["node"]["id"])
        raise AssertionError(f"unknown placeholder <{name} id>")

    async def fill(self, block: Block) -> dict[str, Any]:
        text = block.text
        for name in sorted(set(PLACEHOLDER.findall(text))):
            if name not in self.found:
                self.found[name] = await self.lookup(name)
            text = text.replace(f"<{name} id>", self.found[name])
        return dict(orjson.loads(text))


async def run_operation(
    client: Any, organization: Any, ids: Ids, block: Block, variables: Block | None
) -> None:
    operation = operation_of(block)
    if operation.operation is OperationType.SUBSCRIPTION:
        errors = validate(schema._schema, parse(block.text))
        assert not errors, f"{block}: {errors}"
        return
    values = await ids.fill(variables) if variables else None
    body = await graphql(client, organization, block.text, values)
    for field, answer in body["data"].items():
        assert answer is not None, f"{block}: {field} answered null"
        if isinstance(answer, dict) and "userErrors" in answer:
            assert answer["userErrors"] == [], f"{block}: {answer['userErrors']}"


async def post_example_events(client: Any, organization: Any, block: Block) -> None:
    events = orjson.loads(block.text)
    assert isinstance(events, list), f"{block}: /events takes a JSON array of events"
    response = await client.post(
        "/events",
        content=block.text.encode(),
        headers={**organization.headers(Role.INTEGRATION), "Content-Type": "application/json"},
    )
    assert response.status_code == 200, f"{block}: {response.text}"
    assert response.json() == {"accepted": len(events), "duplicates": 0, "unmatched": 0}, block


def is_setup(block: Block) -> bool:
    """The mutations that make the campaign and its recipients the other examples read."""
    return operation_of(block).operation is OperationType.MUTATION and root_fields(block) <= {
        "upsertCampaign",
        "addRecipients",
    }


async def test_the_examples_run_as_written_against_one_organization(client, organization):
    ids = Ids(client, organization)
    operations = graphql_with_variables()
    # The campaign first, then the events for it, then every read and correction in README order.
    for block, variables in operations:
        if is_setup(block):
            await run_operation(client, organization, ids, block, variables)
    for block in blocks_of("json"):
        await post_example_events(client, organization, block)
    for block, variables in operations:
        if not is_setup(block):
            await run_operation(client, organization, ids, block, variables)
