"""Collecting every reason an input is refused, as `userErrors` with stable codes.

Codes: REQUIRED, INVALID, TOO_LONG, NOT_FOUND, DUPLICATE, FUTURE, NOT_ALLOWED.
"""

from collections.abc import Sequence

from resolvers.records import UserError


class UserErrors:
    def __init__(self) -> None:
        self.errors: list[UserError] = []

    def add(self, field: Sequence[str | int], message: str, code: str) -> None:
        self.errors.append(
            UserError(field=[str(part) for part in field], message=message, code=code)
        )

    def check_text(
        self, field: Sequence[str | int], value: str | None, limit: int, required: bool = False
    ) -> None:
        if value is None or not value.strip():
            if required:
                self.add(field, f"{field[-1]} is required", "REQUIRED")
            return
        if len(value) > limit:
            self.add(field, f"{field[-1]} is longer than {limit} characters", "TOO_LONG")

    def __bool__(self) -> bool:
        return bool(self.errors)
