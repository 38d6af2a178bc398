"""Webhooks authenticated by a shared secret (Postmark, Brevo, SparkPost): basic auth or a token
header.

These providers do not sign their requests: the webhook URL carries basic auth credentials
(https://user:password@host/...), or each request carries a token in a header. Only a SHA-256
of each secret is stored, and the hashes are compared in constant time. Settings:
{"username", "basic_sha256"} or {"header_name", "secret_sha256", "bearer"?}; with "bearer" the
header is `Authorization: Bearer <token>`.
"""

import base64
import binascii
import hmac
from collections.abc import Mapping
from typing import Any

from app.credentials import sha256
from app.ingest.providers.adapter import SignatureError, WebhookRequest


def basic_pair(headers: Mapping[str, str]) -> str:
    """The "user:password" of a basic Authorization header; SignatureError when there is none."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise SignatureError("basic auth is required (put user:password@ in the webhook URL)")
    try:
        return base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise SignatureError("the basic auth header is malformed") from None


def header_token(headers: Mapping[str, str], name: str, bearer: bool) -> str:
    """The token in header `name` (after "Bearer " when `bearer`); SignatureError when absent."""
    value = headers.get(name)
    if not value:
        raise SignatureError(f"the {name} header is required")
    if bearer:
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise SignatureError(f"the {name} header must be 'Bearer <token>'")
        return token.strip()
    return value


def verify(request: WebhookRequest, settings: dict[str, Any], provider: str) -> None:
    """Raise SignatureError unless the request carries the organization's secret."""
    if settings.get("basic_sha256"):
        given = sha256(basic_pair(request.headers))
        if not hmac.compare_digest(given, settings["basic_sha256"]):
            raise SignatureError("wrong basic auth credentials")
        return
    name = settings.get("header_name")
    if name and settings.get("secret_sha256"):
        given = sha256(header_token(request.headers, name, bool(settings.get("bearer"))))
        if not hmac.compare_digest(given, settings["secret_sha256"]):
            raise SignatureError(f"wrong {name} token")
        return
    raise SignatureError(f"no {provider} credentials are configured for this organization")
