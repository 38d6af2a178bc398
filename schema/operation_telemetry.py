"""A schema extension that counts each GraphQL operation, its errors by code, and its time."""

import time
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.telemetry import NO_CODE, UNKNOWN_TYPE, telemetry_of


class OperationTelemetry(SchemaExtension):
    """Listed first among the schema's extensions, so that its operation hook wraps the others:
    the time includes parsing and validation, and the errors are seen as the client gets them
    (after MaskUnexpectedErrors gave unexpected ones the code INTERNAL)."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        execution = self.execution_context
        # The schema is shared by every app of the process: the app's telemetry comes with the
        # request (None when the schema runs outside an app).
        telemetry = telemetry_of(getattr(execution.context, "request", None))
        if telemetry is None:
            return
        try:
            kind = execution.operation_type.value
        except RuntimeError:  # no document, or no operation of the name asked for
            kind = UNKNOWN_TYPE
        result = execution.result
        errors = (result.errors if result is not None else None) or (
            execution.pre_execution_errors or []
        )
        codes = [str((error.extensions or {}).get("code") or NO_CODE) for error in errors]
        # A subscription lasts as long as its client wants: its time says nothing.
        seconds = None if kind == "subscription" else time.perf_counter() - started
        telemetry.graphql_operation(execution.operation_name, kind, codes, seconds)
