"""Automatic persisted queries (Apollo's APQ, version 1): documents by their SHA-256, bounded."""

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

# Apollo's names, which its clients (persisted-queries link, iOS, Kotlin) recognize to resend
# the whole document.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
VERSION = 1


class PersistedQueryError(ValueError):
    """A persistedQuery extension that cannot be honoured (a 400 with this reason)."""


@dataclass(frozen=True, slots=True)
class PersistedQuery:
    """What a request's `extensions.persistedQuery` asks for."""

    sha256: str


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def requested(extensions: object) -> PersistedQuery | None:
    """The persisted query named by a request's `extensions`, None when it names none."""
    if not isinstance(extensions, Mapping) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, Mapping):
        raise PersistedQueryError("extensions.persistedQuery must be an object")
    if persisted.get("version") != VERSION:
        raise PersistedQueryError(f"extensions.persistedQuery.version must be {VERSION}")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError("extensions.persistedQuery.sha256Hash must be 64 hex digits")
    digest = digest.lower()
    if any(character not in "0123456789abcdef" for character in digest):
        raise PersistedQueryError("extensions.persistedQuery.sha256Hash must be 64 hex digits")
    return PersistedQuery(digest)


class PersistedQueries:
    """Documents by SHA-256, least recently used out first, at most `max_bytes` of text in all.

    Per process: a client that meets another instance gets PERSISTED_QUERY_NOT_FOUND once and
    sends the document again (the protocol's own recovery)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._documents)

    def get(self, digest: str) -> str | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    def register(self, persisted: PersistedQuery, document: str) -> None:
        """Keep `document` under its hash, after checking that the client's hash is its own."""
        if sha256_of(document) != persisted.sha256:
            raise PersistedQueryError(
                "extensions.persistedQuery.sha256Hash is not the SHA-256 of the query sent"
            )
        if persisted.sha256 in self._documents or len(document) > self.max_bytes:
            return
        self._documents[persisted.sha256] = document
        self.bytes += len(document)
        while self.bytes > self.max_bytes:
            _, evicted = self._documents.popitem(last=False)
            self.bytes -= len(evicted)
