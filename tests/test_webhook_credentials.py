"""`campaign-graph providers set|list`: per-organization webhook credentials."""

import asyncio
import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from app.cli import main
from app.credentials import credentials_for
from app.database import Database
from app.organizations import organization_by_name

PUBLIC_KEY = base64.b64encode(
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
).decode()


def settings_of(database_url: str, organization: str, provider: str) -> Any:
    async def read() -> Any:
        database = Database.from_url(database_url)
        try:
            async with database.read() as connection:
                org = await organization_by_name(connection, organization)
                assert org is not None
                return await credentials_for(connection, org, provider)
        finally:
            await database.dispose()

    return asyncio.run(read())


@pytest.mark.fresh_database
def test_set_and_list_credentials(database_url: str, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme Corp"])
    main(["providers", "set", "--org", "Acme Corp", "sendgrid", "--public-key", PUBLIC_KEY])
    assert "/webhooks/sendgrid/Acme%20Corp" in capsys.readouterr().out
    main(
        [
            "providers",
            "set",
            "--org",
            "Acme Corp",
            "mailgun",
            "--signing-key",
            "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
        ]
    )
    main(
        [
            "providers",
            "set",
            "--org",
            "Acme Corp",
            "postmark",
            "--username",
            "pm",
            "--password",
            "a long password",
        ]
    )
    main(
        [
            "providers",
            "set",
            "--org",
            "Acme Corp",
            "ses",
            "--topic-arn",
            "arn:aws:sns:eu-west-1:123456789012:ses-events",
        ]
    )
    capsys.readouterr()
    main(["providers", "list", "--org", "Acme Corp"])
    listing = capsys.readouterr().out
    for provider in ("sendgrid", "mailgun", "postmark", "ses"):
        assert provider in listing
    # Secrets are never listed; Postmark's password is not even stored.
    assert "3ax6xnjp29jd6fds4gc373sgvjxteol0" not in listing
    postmark = settings_of(database_url, "Acme Corp", "postmark")
    assert "a long password" not in str(postmark)
    assert settings_of(database_url, "Acme Corp", "ses") == {
        "topic_arns": ["arn:aws:sns:eu-west-1:123456789012:ses-events"]
    }
    # Setting again replaces.
    main(["providers", "set", "--org", "Acme Corp", "ses"])
    assert settings_of(database_url, "Acme Corp", "ses") == {"topic_arns": []}


@pytest.mark.fresh_database
@pytest.mark.parametrize(
    "arguments",
    [
        ["sendgrid", "--public-key", "bm90IGEga2V5"],
        ["mailgun", "--signing-key", "short"],
        ["postmark", "--username", "pm"],
        ["postmark", "--header-secret", "short"],
        ["ses", "--topic-arn", "arn:aws:sqs:eu-west-1:123456789012:queue"],
    ],
)
def test_bad_credentials_are_refused(
    database_url: str, monkeypatch: Any, capsys: Any, arguments: list[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    with pytest.raises(SystemExit) as exit:
        main(["providers", "set", "--org", "Acme", *arguments])
    assert exit.value.code == 1
    assert "error" in capsys.readouterr().err
    assert settings_of(database_url, "Acme", arguments[0]) is None


@pytest.mark.fresh_database
def test_remove_credentials(database_url: str, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    main(["orgs", "create", "Acme"])
    main(["orgs", "create", "Other"])
    for org in ("Acme", "Other"):
        main(["providers", "set", "--org", org, "sendgrid", "--public-key", PUBLIC_KEY])
    main(
        [
            "providers",
            "set",
            "--org",
            "Acme",
            "mailgun",
            "--signing-key",
            "key-3ax6xnjp29jd6fds4gc373sgvjxteol0",
        ]
    )
    capsys.readouterr()
    main(["providers", "remove", "--org", "Acme", "sendgrid"])
    assert "removed" in capsys.readouterr().out
    assert settings_of(database_url, "Acme", "sendgrid") is None
    # Only that organization's credentials for that provider go.
    assert settings_of(database_url, "Acme", "mailgun") is not None
    assert settings_of(database_url, "Other", "sendgrid") == {"public_key": PUBLIC_KEY}
    for arguments in (["--org", "Acme", "sendgrid"], ["--org", "Nobody", "mailgun"]):
        with pytest.raises(SystemExit) as exit:
            main(["providers", "remove", *arguments])
        assert exit.value.code == 1
        assert "error" in capsys.readouterr().err
    assert settings_of(database_url, "Acme", "mailgun") is not None
