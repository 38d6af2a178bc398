"""The pure parts of response caching: the LRU bounded by bytes, the age spliced into an answer,
Cache-Control: max-stale and If-None-Match, APQ hashes, and which versions a document needs."""

import hashlib

import orjson
import pytest

from app.ids import global_id
from app.persisted_queries import PersistedQueries, PersistedQuery, PersistedQueryError
from app.response_cache import ENTRY_OVERHEAD, CachedAnswer, ResponseCache, with_age
from app.routes.graphql_http import etag_matches, max_stale
from app.routes.graphql_scopes import plan


def answer(size: int, etag: str = "e") -> CachedAnswer:
    """An entry whose size is exactly `size` + ENTRY_OVERHEAD + 2 (token "t", etag "e")."""
    return CachedAnswer(body=b"x" * size, token="t", etag=etag, computed_at=0.0)


def test_the_least_recently_used_answers_leave_first_once_over_the_bound():
    each = 100 + ENTRY_OVERHEAD + 2
    cache = ResponseCache(3 * each)
    for key in "abc":
        assert cache.put(key, answer(100))
    assert cache.bytes == 3 * each
    assert cache.get("a") is not None  # a is now the most recently used: b is the oldest
    cache.put("d", answer(100))
    assert [key for key in "abcd" if cache.get(key) is not None] == ["a", "c", "d"]
    assert (cache.bytes, cache.evictions) == (3 * each, 1)
    # One large answer pushes out as many as it needs.
    cache.put("e", answer(100 + each))
    assert [key for key in "acde" if cache.get(key) is not None] == ["d", "e"]
    assert cache.bytes == 3 * each


def test_an_answer_larger_than_the_bound_or_a_disabled_cache_keeps_nothing():
    assert not ResponseCache(500).put("big", answer(500))
    disabled = ResponseCache(0)
    assert not disabled.enabled
    assert not disabled.put("a", answer(1))
    assert (len(disabled), disabled.bytes) == (0, 0)


def test_replacing_a_key_counts_its_bytes_once():
    cache = ResponseCache(10_000)
    cache.put("a", answer(100))
    cache.put("a", answer(300))
    assert (len(cache), cache.bytes) == (1, 300 + ENTRY_OVERHEAD + 2)


def test_the_age_joins_the_answers_own_extensions():
    body = orjson.dumps({"data": {"a": 1}, "extensions": {"cost": 3}})
    spliced = CachedAnswer(body, "t", "e", 0.0, extensions_last=True)
    assert orjson.loads(with_age(spliced, 7)) == {
        "data": {"a": 1},
        "extensions": {"cost": 3, "cache": {"age": 7}},
    }
    bare = CachedAnswer(orjson.dumps({"data": {"a": 1}}), "t", "e", 0.0)
    assert orjson.loads(with_age(bare, 0)) == {
        "data": {"a": 1},
        "extensions": {"cache": {"age": 0}},
    }


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("no-cache", None),
        ("max-stale=5", 5),
        ("no-transform, Max-Stale=12", 12),
        ('max-stale="7"', 7),
        ("max-stale=600", 60),  # capped
        ("max-stale", 60),  # any staleness: the cap
        ("max-stale=-1", None),
        ("max-stale=soon", None),
    ],
)
def test_max_stale_is_read_and_capped(header, seconds):
    assert max_stale(header, 60) == seconds


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        ('W/"abc"', True),
        ('"abc"', True),
        ('"x", W/"abc"', True),
        ("*", True),
        ('W/"abd"', False),
        (None, False),
    ],
)
def test_if_none_match_compares_weakly(header, matches):
    assert etag_matches(header, 'W/"abc"') is matches


def test_a_persisted_document_is_kept_only_under_its_own_hash_and_within_its_bound():
    store = PersistedQueries(max_bytes=40)
    document = "{ viewer { role } }"  # 19 characters
    digest = hashlib.sha256(document.encode()).hexdigest()
    with pytest.raises(PersistedQueryError):
        store.register(PersistedQuery("0" * 64), document)
    store.register(PersistedQuery(digest), document)
    assert store.get(digest) == document
    other = "{ __typename campaigns { totalCount } }"  # 39: together over 40
    store.register(PersistedQuery(hashlib.sha256(other.encode()).hexdigest()), other)
    assert store.get(digest) is None
    assert store.bytes == len(other)


SPRING, AUTUMN = global_id("Campaign", 12), global_id("Campaign", 15)


def on_spring(selection: str) -> str:
    """A query of campaign 12's `selection` (and what follows it at the root)."""
    return '{ campaign(id: "' + SPRING + '") ' + selection + " }"


@pytest.mark.parametrize(
    ("document", "variables", "campaigns"),
    [
        # The campaign's own data, by literal or variable, in fragments too: its version.
        (on_spring("{ name stats { sent } links { url } }"), {}, [12]),
        (
            "query($a: ID!, $b: ID!) { a: campaign(id: $a) { ...F } b: campaign(id: $b) { id } }"
            " fragment F on Campaign { variants { stats { opened } } timeline { start } }",
            {"a": SPRING, "b": AUTUMN},
            [12, 15],
        ),
        # Anything that is not the campaign's own data: the organization's version.
        (on_spring("{ recipients { totalCount } }"), {}, None),
        (on_spring("{ project { name } }"), {}, None),
        (on_spring("{ links { topClickers { email } } }"), {}, None),
        ('{ campaign(externalId: "spring") { name } }', {}, None),
        ('{ campaign(id: "nonsense") { name } }', {}, None),
        ("{ campaigns { totalCount } }", {}, None),
        (on_spring("{ name } viewer { role }"), {}, None),
        (on_spring("{ ... on Node { id } }"), {}, None),
    ],
)
def test_the_versions_a_query_needs(document, variables, campaigns):
    found = plan(document, None)
    assert found is not None
    assert found.campaigns(variables) == campaigns


def test_operations_and_the_cached_directive():
    assert plan("{", None) is None
    assert plan("query A { __typename } query B { __typename }", None) is None
    assert plan("mutation { __typename }", None).operation.value == "mutation"
    directive = plan("query Q($n: Int!) @cached(maxAge: $n) { __typename }", "Q")
    assert directive.max_age_seconds({"n": 15}) == 15
    assert plan("query @cached(maxAge: 5) { __typename }", None).max_age_seconds({}) == 5
    assert plan("{ __typename }", None).max_age_seconds({}) is None
