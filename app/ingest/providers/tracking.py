"""Own tracking for senders without an ESP's tracking: signed open and click tokens.

A token names an organization, a recipient and (for clicks) one of the campaign's registered
links, and is signed with HMAC-SHA256 under TRACKING_SECRET:

    token = base64url(payload) "." base64url(HMAC-SHA256(secret, kind ":" payload)[:16])
    payload = "<organization id>.<recipient id>" (open, kind "o")
            | "<organization id>.<recipient id>.<link id>" (click, kind "c")

(base64url without padding). The kind is signed too, so an open token is no click token. A
tampered token fails the check and records nothing; a click redirects only to the URL the link
has in the database, never to anything the token says, so there is no open redirect.
"""

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass

OPEN = "o"
CLICK = "c"
MAC_BYTES = 16


@dataclass(frozen=True, slots=True)
class TrackingToken:
    organization_id: int
    recipient_id: int
    link_id: int | None = None


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: str, kind: str, payload: str) -> bytes:
    return hmac.new(secret.encode(), f"{kind}:{payload}".encode(), hashlib.sha256).digest()[
        :MAC_BYTES
    ]


def make_token(
    secret: str, kind: str, organization_id: int, recipient_id: int, link_id: int | None = None
) -> str:
    """A signed token: `kind` OPEN (no link) or CLICK (with the link's id)."""
    if (kind == CLICK) != (link_id is not None) or kind not in (OPEN, CLICK):
        raise ValueError("an open token has no link; a click token needs one")
    parts = [organization_id, recipient_id] + ([link_id] if link_id is not None else [])
    payload = ".".join(str(part) for part in parts)
    return f"{_encode(payload.encode())}.{_encode(_mac(secret, kind, payload))}"


def read_token(secret: str, kind: str, token: str) -> TrackingToken | None:
    """The token's contents when its signature holds for `kind`; None for anything else."""
    if len(token) > 200 or token.count(".") != 1:
        return None
    encoded_payload, encoded_mac = token.split(".")
    try:
        payload = _decode(encoded_payload).decode("ascii")
        given = _decode(encoded_mac)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(given, _mac(secret, kind, payload)):
        return None
    parts = payload.split(".")
    if len(parts) != (3 if kind == CLICK else 2) or not all(part.isdigit() for part in parts):
        return None
    numbers = [int(part) for part in parts]
    return TrackingToken(numbers[0], numbers[1], numbers[2] if kind == CLICK else None)
