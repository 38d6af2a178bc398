"""Merge fields: their rules (names, limits) and filling a template's placeholders, pure logic.

Placeholders, all in one pass over the template:
- `{{name}}`, `{{ name }}`, and `{{{name}}}` (Handlebars' triple braces, escaped all the same);
- `{{name|default}}`, also written `{{ name | default: "text" }}` (Liquid, Klaviyo);
- Mailchimp's `*|NAME|*`.

Field names match case-insensitively (Mailchimp's tags are upper case, the data rarely is), so
`*|FNAME|*`, `{{fname}}` and `{{FName}}` are one field, and two fields whose names differ only in
case are one field given twice. A value is HTML-escaped (`& < > " '`) where it lands, and is never
read for placeholders again. An unknown field, or one whose value is empty, renders its default,
or nothing: never the raw placeholder. Anything else in braces or bars (`{{#if x}}`,
`*|IF:FNAME|*`, `*|MC:SUBJECT|*`) is a placeholder of no known field and renders as nothing.
"""

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

MAX_FIELDS = 100
MAX_NAME = 100
MAX_VALUE = 5000
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

_CURLY_BODY = r"\s*(?P<{n}>[^{{}}|]{{0,200}}?)\s*(?:\|(?P<{d}>[^{{}}]{{0,1000}}?))?\s*"
PLACEHOLDER = re.compile(
    r"\{\{\{" + _CURLY_BODY.format(n="triple", d="triple_default") + r"\}\}\}"
    r"|\{\{" + _CURLY_BODY.format(n="name", d="default") + r"\}\}"
    r"|\*\|(?P<tag>[^|*\s]{1,200})\|\*"
)
# The Liquid way of writing a default: `default: "text"` or `default: 'text'`.
LIQUID_DEFAULT = re.compile(r"""^default\s*:\s*(?:"(?P<double>[^"]*)"|'(?P<single>[^']*)')$""")


@dataclass(frozen=True, slots=True)
class MergeFieldProblem:
    """Why a list of merge fields is refused: which field (None: the list itself), which part of
    it ("name", "value" or None), a sentence, and a userError code."""

    index: int | None
    part: str | None
    message: str
    code: str


def field_key(name: str) -> str:
    """The key a field is looked up by: its name, case-insensitively."""
    return name.casefold()


def check_merge_fields(fields: Sequence[tuple[str, str]]) -> list[MergeFieldProblem]:
    """Every problem of a list of (name, value): names required, of letters, digits, `_ . -`,
    at most MAX_NAME characters and given once (whatever the case); values at most MAX_VALUE
    characters; at most MAX_FIELDS fields."""
    problems: list[MergeFieldProblem] = []
    if len(fields) > MAX_FIELDS:
        problems.append(
            MergeFieldProblem(None, None, f"at most {MAX_FIELDS} merge fields", "INVALID")
        )
    seen: set[str] = set()
    for index, (name, value) in enumerate(fields):
        if not name.strip():
            problems.append(MergeFieldProblem(index, "name", "name is required", "REQUIRED"))
        elif len(name) > MAX_NAME:
            problems.append(
                MergeFieldProblem(
                    index, "name", f"name is longer than {MAX_NAME} characters", "TOO_LONG"
                )
            )
        elif not NAME_PATTERN.fullmatch(name):
            problems.append(
                MergeFieldProblem(
                    index,
                    "name",
                    f"name {name!r} may hold only letters, digits, '_', '.' and '-'",
                    "INVALID",
                )
            )
        elif field_key(name) in seen:
            problems.append(
                MergeFieldProblem(
                    index, "name", f"merge field {name!r} is given twice", "DUPLICATE"
                )
            )
        seen.add(field_key(name))
        if len(value) > MAX_VALUE:
            problems.append(
                MergeFieldProblem(
                    index, "value", f"value is longer than {MAX_VALUE} characters", "TOO_LONG"
                )
            )
    return problems


def lookup(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The fields by their lookup key."""
    return {field_key(name): value for name, value in fields}


def _default(text: str | None) -> str:
    """A placeholder's default as written in the template (template text: not escaped)."""
    if text is None:
        return ""
    text = text.strip()
    liquid = LIQUID_DEFAULT.match(text)
    if liquid:
        return liquid.group("double") if liquid.group("double") is not None else liquid["single"]
    return text


def placeholder_parts(match: re.Match[str]) -> tuple[str, str | None]:
    """A PLACEHOLDER match's field name and default as written (None: no default)."""
    if match.group("tag") is not None:
        return match.group("tag"), None
    if match.group("triple") is not None:
        return match.group("triple"), match.group("triple_default")
    return match.group("name"), match.group("default")


def render(template: str, fields: Mapping[str, str]) -> str:
    """The template with its placeholders filled from `fields` (by lookup key, see `lookup`)."""

    def fill(match: re.Match[str]) -> str:
        name, default = placeholder_parts(match)
        value = fields.get(field_key(name.strip()))
        if not value:
            return _default(default)
        return html.escape(value, quote=True)

    return PLACEHOLDER.sub(fill, template)
