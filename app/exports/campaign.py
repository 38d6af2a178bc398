"""The file name of a campaign's download."""

import re


def file_name(external_id: str, kind: str, extension: str) -> str:
    """A safe download name, e.g. spring-sale-recipients.csv."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", external_id).strip("-.")[:80] or "campaign"
    return f"{stem}-{kind}.{extension}"
