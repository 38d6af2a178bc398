"""Per-organization webhook credentials of each provider (table provider_credentials).

Managed with `campaign-graph providers set|list|remove`. Settings by provider:
- sendgrid: {"public_key": base64 DER or PEM}, the Event Webhook's verification key;
- mailgun: {"signing_key": ...}, the HTTP webhook signing key (needed in clear to compute HMACs);
- postmark: {"username", "basic_sha256"} or {"header_name", "secret_sha256"}: only hashes;
- ses: {"topic_arns": [...]}, the SNS topics allowed to post (empty: any topic);
- brevo: {"username", "basic_sha256"}, or {"header_name", "secret_sha256", "bearer"}: a token
  in `Authorization: Bearer` (Brevo's webhook auth) or in a custom header: only hashes;
- sparkpost: {"username", "basic_sha256"} or {"header_name": "X-MessageSystems-Webhook-Token",
  "secret_sha256"}: only hashes.
"""

import hashlib
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from app.ingest.aggregate_writer import dialect_insert
from app.ingest.providers.sendgrid import load_public_key
from app.models import Organization, ProviderCredential

PROVIDERS = ("sendgrid", "mailgun", "ses", "postmark", "brevo", "sparkpost")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
HEADER_NAME = re.compile(r"^[A-Za-z0-9-]{1,100}$")


class CredentialError(ValueError):
    """Settings that cannot work, with the reason."""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def sendgrid_settings(public_key: str) -> dict[str, Any]:
    try:
        load_public_key(public_key)
    except ValueError as exc:
        raise CredentialError(str(exc)) from None
    return {"public_key": public_key.strip()}


def mailgun_settings(signing_key: str) -> dict[str, Any]:
    if len(signing_key.strip()) < 16:
        raise CredentialError("the Mailgun signing key looks too short")
    return {"signing_key": signing_key.strip()}


def postmark_settings(
    username: str | None = None,
    password: str | None = None,
    header_name: str | None = None,
    header_secret: str | None = None,
) -> dict[str, Any]:
    if username is not None or password is not None:
        if not username or not password or ":" in username:
            raise CredentialError("basic auth needs a username (without ':') and a password")
        if len(password) < 12:
            raise CredentialError("the password must be at least 12 characters")
        return {"username": username, "basic_sha256": sha256(f"{username}:{password}")}
    if header_secret:
        name = header_name or "X-Webhook-Secret"
        if not HEADER_NAME.match(name):
            raise CredentialError(f"not a header name: {name!r}")
        if len(header_secret) < 16:
            raise CredentialError("the header secret must be at least 16 characters")
        return {"header_name": name, "secret_sha256": sha256(header_secret)}
    raise CredentialError("give --username and --password, or --header-secret")


def basic_settings(username: str | None, password: str | None) -> dict[str, Any]:
    """Basic auth credentials, kept as a SHA-256 of "username:password"."""
    if not username or not password or ":" in username:
        raise CredentialError("basic auth needs a username (without ':') and a password")
    if len(password) < 12:
        raise CredentialError("the password must be at least 12 characters")
    return {"username": username, "basic_sha256": sha256(f"{username}:{password}")}


def token_settings(header_name: str, token: str, bearer: bool = False) -> dict[str, Any]:
    """A token sent in a header (after "Bearer " when `bearer`), kept as its SHA-256."""
    if not HEADER_NAME.match(header_name):
        raise CredentialError(f"not a header name: {header_name!r}")
    if len(token) < 16:
        raise CredentialError("the token must be at least 16 characters")
    settings: dict[str, Any] = {"header_name": header_name, "secret_sha256": sha256(token)}
    return settings | ({"bearer": True} if bearer else {})


def brevo_settings(
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    header_name: str | None = None,
    header_secret: str | None = None,
) -> dict[str, Any]:
    """Brevo: basic auth in the URL, its webhook `auth` bearer token, or a custom header."""
    if username is not None or password is not None:
        return basic_settings(username, password)
    if token:
        return token_settings("Authorization", token, bearer=True)
    if header_secret:
        return token_settings(header_name or "X-Webhook-Secret", header_secret)
    raise CredentialError("give --username and --password, --token, or --header-secret")


def sparkpost_settings(
    username: str | None = None, password: str | None = None, token: str | None = None
) -> dict[str, Any]:
    """SparkPost: the webhook's basic auth, or its auth token (X-MessageSystems-Webhook-Token)."""
    if username is not None or password is not None:
        return basic_settings(username, password)
    if token:
        return token_settings("X-MessageSystems-Webhook-Token", token)
    raise CredentialError("give --username and --password, or --token")


def ses_settings(topic_arns: list[str] | None = None) -> dict[str, Any]:
    for arn in topic_arns or []:
        if not TOPIC_ARN.match(arn):
            raise CredentialError(f"not an SNS topic ARN: {arn!r}")
    return {"topic_arns": sorted(set(topic_arns or []))}


def describe(provider: str, settings: dict[str, Any]) -> str:
    """A summary of the settings that shows no secret."""
    if provider == "sendgrid":
        return f"public key {settings['public_key'][-12:]}"
    if provider == "mailgun":
        return f"signing key …{settings['signing_key'][-4:]}"
    if provider == "postmark":
        if "username" in settings:
            return f"basic auth as {settings['username']}"
        return f"secret header {settings['header_name']}"
    if provider in ("brevo", "sparkpost"):
        if "username" in settings:
            return f"basic auth as {settings['username']}"
        if settings.get("bearer"):
            return "bearer token (Authorization)"
        return f"token header {settings['header_name']}"
    if provider == "ses":
        return ", ".join(settings.get("topic_arns") or []) or "any SNS topic (no topic ARN set)"
    return ""


async def credentials_for(
    connection: AsyncConnection, organization_id: int, provider: str
) -> dict[str, Any] | None:
    """The organization's settings for `provider`, or None when none are set."""
    return (
        await connection.execute(
            select(ProviderCredential.settings).where(
                ProviderCredential.organization_id == organization_id,
                ProviderCredential.provider == provider,
            )
        )
    ).scalar()


async def set_credentials(
    connection: AsyncConnection, organization_id: int, provider: str, settings: dict[str, Any]
) -> None:
    """Store (or replace) the organization's settings for `provider`."""
    if provider not in PROVIDERS:
        raise CredentialError(f"unknown provider {provider!r}; one of {', '.join(PROVIDERS)}")
    now = datetime.now(UTC)
    statement = dialect_insert(connection, ProviderCredential.__table__)  # type: ignore[arg-type]
    await connection.execute(
        statement.on_conflict_do_update(
            index_elements=["organization_id", "provider"],
            set_={"settings": statement.excluded.settings, "updated_at": now},
        ),
        [
            {
                "organization_id": organization_id,
                "provider": provider,
                "settings": settings,
                "updated_at": now,
            }
        ],
    )


async def delete_credentials(
    connection: AsyncConnection, organization_id: int, provider: str
) -> bool:
    """Remove the organization's settings for `provider`; False when there were none.

    From then on that provider's webhooks for the organization are refused (401).
    """
    result = await connection.execute(
        delete(ProviderCredential)
        .where(
            ProviderCredential.organization_id == organization_id,
            ProviderCredential.provider == provider,
        )
        .returning(ProviderCredential.id)
    )
    return result.first() is not None


async def list_credentials(
    connection: AsyncConnection, organization_id: int | None = None
) -> list[tuple[str, str, str, datetime]]:
    """(organization, provider, summary, updated) of every stored credential."""
    statement = (
        select(
            Organization.name,
            ProviderCredential.provider,
            ProviderCredential.settings,
            ProviderCredential.updated_at,
        )
        .join(Organization, Organization.id == ProviderCredential.organization_id)
        .order_by(Organization.name, ProviderCredential.provider)
    )
    if organization_id is not None:
        statement = statement.where(ProviderCredential.organization_id == organization_id)
    rows = (await connection.execute(statement)).all()
    return [(row[0], row[1], describe(row[1], row[2]), row[3]) for row in rows]
