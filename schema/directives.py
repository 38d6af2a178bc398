"""Operation directives clients may put on a query (declared so that validation passes)."""

import strawberry
from strawberry.directive import DirectiveLocation


@strawberry.directive(
    locations=[DirectiveLocation.QUERY],
    description=(
        "Accept an answer from the response cache up to maxAge seconds old (capped by the "
        "server's MAX_STALE_SECONDS) without checking that nothing changed; the answer's age "
        "is in extensions.cache.age. Without it, answers are exact."
    ),
)
def cached(max_age: int) -> None:
    """Read by the HTTP edge (app/routes/graphql_scopes.py) before execution; nothing to do
    while executing."""
    return None
