"""Errors of the GWS adapter, each carrying what an operator needs: operation, HTTP status, and
the server's own message."""

from __future__ import annotations


class GwsHttpError(Exception):
    """A REST call answered 4xx/5xx."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class LoginFailed(GwsHttpError):
    """The login GET was refused (401/403: credentials) or told us nothing usable."""


class GwsOperationError(Exception):
    """A call operation failed: ``status`` is None for a timeout or a network failure."""

    def __init__(self, operation: str, status: int | None, message: str) -> None:
        where = f"HTTP {status}" if status is not None else "no reply"
        super().__init__(f"GWS {operation} failed ({where}): {message}")
        self.operation = operation
        self.status = status
        self.message = message
