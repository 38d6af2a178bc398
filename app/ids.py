"""Opaque global ids ("Campaign:42", base64url without padding), shared by every layer."""

import base64
import binascii


def global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def parse_global_id(value: str, expected: str | None = None) -> tuple[str, int] | None:
    """(type name, primary key) of a global id; None for anything malformed or of another type."""
    try:
        padded = value + "=" * (-len(value) % 4)
        type_name, _, pk = base64.urlsafe_b64decode(padded.encode()).decode().partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if expected is not None and type_name != expected:
        return None
    if number <= 0 or number >= 2**63:
        return None
    return type_name, number


def parse_pk(value: str | None, expected: str) -> int | None:
    """The primary key of a global id of type `expected`, or None."""
    if value is None:
        return None
    parsed = parse_global_id(value, expected)
    return parsed[1] if parsed else None
