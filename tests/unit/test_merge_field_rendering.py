"""Filling merge-field placeholders: both syntaxes, defaults, escaping, one pass, unknown fields,
and the rules a list of merge fields must keep. Expected texts are written out by hand."""

import pytest

from app.message_views.merge_fields import (
    MAX_FIELDS,
    MAX_NAME,
    MAX_VALUE,
    check_merge_fields,
    lookup,
    render,
)

ADA = lookup([("FNAME", "Ada"), ("city", "London"), ("empty", "")])


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{FNAME}}!", "Hi Ada!"),
        ("Hi {{ FNAME }}!", "Hi Ada!"),
        ("Hi {{\n  fname\t}}!", "Hi Ada!"),
        ("Hi {{{FNAME}}}!", "Hi Ada!"),
        ("Hi *|FNAME|*!", "Hi Ada!"),
        # Names match whatever their case: Mailchimp's tags are upper case, data rarely is.
        ("*|CITY|* / {{City}} / {{city}}", "London / London / London"),
        ("<p>{{FNAME}} in *|CITY|*</p>", "<p>Ada in London</p>"),
    ],
)
def test_both_syntaxes_fill_the_field(template: str, expected: str) -> None:
    assert render(template, ADA) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hi {{nickname|friend}}!", "Hi friend!"),
        ("Hi {{ nickname | dear friend }}!", "Hi dear friend!"),
        ('Hi {{ nickname | default: "pal" }}!', "Hi pal!"),
        ("Hi {{nickname|default:'you there'}}!", "Hi you there!"),
        # A known field wins over its default; an empty value takes the default.
        ("Hi {{FNAME|friend}}!", "Hi Ada!"),
        ("Hi {{empty|friend}}!", "Hi friend!"),
    ],
)
def test_a_default_stands_in_for_a_missing_or_empty_field(template: str, expected: str) -> None:
    assert render(template, ADA) == expected


@pytest.mark.parametrize(
    "template",
    [
        "[{{nickname}}]",
        "[{{ nickname }}]",
        "[*|NICKNAME|*]",
        "[{{empty}}]",
        "[*|MC:SUBJECT|*]",
        "[{{}}]",
        "[{{#if FNAME}}]",
    ],
)
def test_an_unknown_field_renders_nothing_never_the_placeholder(template: str) -> None:
    assert render(template, ADA) == "[]"


def test_values_are_html_escaped_where_they_land() -> None:
    fields = lookup([("name", 'Tom & Jerry <b>"the best"</b> it\'s')])
    expected = "Tom &amp; Jerry &lt;b&gt;&quot;the best&quot;&lt;/b&gt; it&#x27;s"
    assert render("{{name}}", fields) == expected
    assert render("*|NAME|*", fields) == expected
    assert render("{{{name}}}", fields) == expected  # triple braces escape all the same
    assert render('<a title="{{name}}">x</a>', fields) == f'<a title="{expected}">x</a>'


def test_a_value_that_looks_like_a_placeholder_is_not_filled_again() -> None:
    fields = lookup([("a", "{{b}}"), ("b", "B"), ("c", "*|B|*")])
    assert render("{{a}} {{c}} {{b}}", fields) == "{{b}} *|B|* B"


def test_text_that_is_no_placeholder_stays() -> None:
    text = "50% off *| not a tag | { braces } a*|b and {single} and a|b"
    assert render(text, ADA) == text


def test_good_fields_have_no_problem() -> None:
    assert check_merge_fields([("FNAME", "Ada"), ("order.id", "A-1"), ("x_y-z", "")]) == []
    assert check_merge_fields([("n" * MAX_NAME, "v" * MAX_VALUE)]) == []
    assert check_merge_fields([(f"f{i}", "") for i in range(MAX_FIELDS)]) == []


def test_bad_fields_are_each_named_with_their_code() -> None:
    problems = check_merge_fields(
        [
            ("", "x"),
            ("first name", "y"),
            ("FNAME", "1"),
            ("fname", "2"),  # the same name in another case
            ("n" * (MAX_NAME + 1), "v"),
            ("ok", "v" * (MAX_VALUE + 1)),
        ]
    )
    assert [(p.index, p.part, p.code) for p in problems] == [
        (0, "name", "REQUIRED"),
        (1, "name", "INVALID"),
        (3, "name", "DUPLICATE"),
        (4, "name", "TOO_LONG"),
        (5, "value", "TOO_LONG"),
    ]
    too_many = check_merge_fields([(f"f{i}", "") for i in range(MAX_FIELDS + 1)])
    assert [(p.index, p.part, p.code) for p in too_many] == [(None, None, "INVALID")]
