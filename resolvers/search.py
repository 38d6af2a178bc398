"""Search arguments of GraphQL fields: app.search's check, refused as BAD_USER_INPUT."""

from app.search import SearchTooLong, search_text
from resolvers.arguments import BadArgument


def search_argument(value: str | None, argument: str) -> str | None:
    """The trimmed, lower-cased text of a search argument (None: no search); BadArgument when
    it is over the limit."""
    try:
        return search_text(value, argument)
    except SearchTooLong as exc:
        raise BadArgument(str(exc)) from None
