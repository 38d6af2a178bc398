"""The message as people saw it: sanitized HTML views of a campaign's messages (click map, previews)."""
