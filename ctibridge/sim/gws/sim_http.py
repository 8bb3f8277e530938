"""Request helpers shared by the simulator's REST dialects: reading bodies, refusing like GWS."""

from __future__ import annotations

from typing import Any

from aiohttp import web


class SimulatedError(Exception):
    """Turned into an HTTP error reply by the simulator's middleware."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise SimulatedError(400, "Body is not JSON") from exc
    if not isinstance(body, dict):
        raise SimulatedError(400, "Body is not a JSON object")
    return body


def destination_of(body: dict[str, Any]) -> str:
    """The v2 ``destination.phoneNumber`` of an operation body."""
    destination = body.get("destination")
    number = destination.get("phoneNumber") if isinstance(destination, dict) else None
    if not isinstance(number, str) or not number:
        raise SimulatedError(400, "destination.phoneNumber is required")
    return number
