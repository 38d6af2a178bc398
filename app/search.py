"""Free-text search: the one limit on its length, checked wherever a search goes into a LIKE."""

# Longer searches are refused: nobody types them, and SQLite refuses long LIKE patterns
# ("LIKE or GLOB pattern too complex"), which would surface as an internal error.
MAX_SEARCH_LENGTH = 200


class SearchTooLong(ValueError):
    """A search longer than MAX_SEARCH_LENGTH; the message names the argument and the limit."""


def search_text(value: str | None, name: str) -> str | None:
    """The text a search looks for: trimmed and lower-cased, None when there is none.

    Raises SearchTooLong when it is longer than MAX_SEARCH_LENGTH characters."""
    text = (value or "").strip()
    if len(text) > MAX_SEARCH_LENGTH:
        raise SearchTooLong(
            f"{name} is {len(text)} characters long; at most {MAX_SEARCH_LENGTH} are allowed"
        )
    return text.lower() or None
