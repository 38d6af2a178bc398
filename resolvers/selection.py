"""What the query asks of a field: resolvers read ahead only what will be shown."""

from resolvers.context import Info


def selects_any(info: Info, names: tuple[str, ...]) -> bool:
    """Whether the field's selection asks, at any depth, for a field of one of these names."""
    pending = list(info.selected_fields)
    while pending:
        field = pending.pop()
        if getattr(field, "name", None) in names:
            return True
        pending.extend(getattr(field, "selections", ()))
    return False
