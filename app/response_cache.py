"""The response cache's store: encoded GraphQL answers by key, least recently used out first,
bounded by the bytes it holds (pure: no I/O; the edge checks versions before serving)."""

from collections import OrderedDict
from dataclasses import dataclass

import orjson

# What an entry costs beyond its answer and token (the key, the entry, the dict slot): an
# estimate, so that a flood of tiny answers is bounded too.
ENTRY_OVERHEAD = 400


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    """One answer as it was sent, with what it depends on."""

    body: bytes  # the encoded answer, served as is
    token: str  # the versions it read (app.versions.VersionSet.token)
    etag: str  # derived from the key and the token, so computable before executing
    computed_at: float  # time.time() when the reads ran: the answer reflects every write before
    # The newest write the answer includes (its versions' changed_at, epoch seconds; None: none)
    includes_write_at: float | None = None
    # Whether `extensions` is the answer's last member and a non-empty object: then the cache's
    # own member can be spliced in before its closing braces without decoding the answer.
    extensions_last: bool = False

    @property
    def size(self) -> int:
        return len(self.body) + len(self.token) + len(self.etag) + ENTRY_OVERHEAD


class ResponseCache:
    """An LRU of answers by key, holding at most `max_bytes` (0: disabled, nothing is kept)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, max_bytes)
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    @property
    def enabled(self) -> bool:
        return self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedAnswer | None:
        """The entry of `key`, now the most recently used; None when absent."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: str, entry: CachedAnswer) -> bool:
        """Keep `entry` under `key` (replacing any), evicting the least recently used entries
        until the total fits; an entry larger than the whole bound is not kept."""
        self.discard(key)
        if entry.size > self.max_bytes:
            return False
        self._entries[key] = entry
        self.bytes += entry.size
        while self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size
            self.evictions += 1
        return True

    def discard(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def with_age(entry: CachedAnswer, age: int) -> bytes:
    """The answer with `extensions.cache = {"age": age}` added (an answer served stale)."""
    member = b'"cache":{"age":%d}' % age
    if entry.extensions_last:
        # ...,"extensions":{...}}  ->  ...,"extensions":{...,"cache":{"age":N}}}
        return entry.body[:-2] + b"," + member + b"}}"
    answer = orjson.loads(entry.body)
    answer.setdefault("extensions", {})["cache"] = {"age": age}
    return orjson.dumps(answer)
