"""Call operations over GWS REST, for one agent's session.

GWS answers ``{"statusCode": 0}`` at once and reports the result later over CometD; this module
only makes sure the request was accepted, and says clearly why when it was not. A 403 "Missing or
invalid Csrf token" (or a 401 after the HTTP session expired) triggers one re-login, which re-reads
the CSRF token, and one retry.
"""

from __future__ import annotations

from typing import Any, Protocol

import aiohttp

from ctibridge.gws.dialects import Dialect, OperationParams
from ctibridge.gws.errors import GwsHttpError, GwsOperationError


class _Session(Protocol):
    dialect: Dialect
    device_id: str

    async def request(
        self, method: str, path: str, body: Any = None
    ) -> tuple[Any, aiohttp.ClientResponse]: ...

    async def login(self) -> None: ...


class GwsOperations:
    """``ops = GwsOperations(session); await ops.hold(call_id)``; every method raises
    :class:`GwsOperationError` (operation, HTTP status or None, server message) on failure."""

    def __init__(self, session: _Session) -> None:
        self._session = session

    async def answer(self, call_id: str) -> None:
        await self.perform("Answer", call_id)

    async def hangup(self, call_id: str) -> None:
        await self.perform("Hangup", call_id)

    async def hold(self, call_id: str) -> None:
        await self.perform("Hold", call_id)

    async def retrieve(self, call_id: str) -> None:
        await self.perform("Retrieve", call_id)

    async def single_step_transfer(self, call_id: str, destination: str) -> None:
        await self.perform("SingleStepTransfer", call_id, OperationParams(destination=destination))

    async def initiate_transfer(self, call_id: str, destination: str) -> None:
        await self.perform("InitiateTransfer", call_id, OperationParams(destination=destination))

    async def complete_transfer(self, call_id: str, consult_call_id: str = "") -> None:
        await self.perform("CompleteTransfer", call_id, OperationParams(consult_call_id=consult_call_id))

    async def initiate_conference(self, call_id: str, destination: str) -> None:
        await self.perform("InitiateConference", call_id, OperationParams(destination=destination))

    async def complete_conference(self, call_id: str, consult_call_id: str = "") -> None:
        await self.perform("CompleteConference", call_id, OperationParams(consult_call_id=consult_call_id))

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        await self.perform("SendDtmf", call_id, OperationParams(digits=digits))

    async def dial(self, destination: str) -> None:
        path, body = self._session.dialect.dial(self._session.device_id, destination)
        await self._post("Dial", path, body)

    async def perform(self, operation: str, call_id: str, params: OperationParams | None = None) -> None:
        """Any operation by its v2 name (``Hold``, ``SingleStepTransfer``, ...)."""
        try:
            path, body = self._session.dialect.operation(operation, call_id, params or OperationParams())
        except ValueError as exc:
            raise GwsOperationError(operation, None, str(exc)) from exc
        await self._post(operation, path, body)

    async def _post(self, operation: str, path: str, body: dict[str, Any]) -> None:
        try:
            try:
                reply, _ = await self._session.request("POST", path, body)
            except GwsHttpError as exc:
                if exc.status not in (401, 403):
                    raise
                await self._session.login()  # new CSRF token (and session cookie if it had expired)
                reply, _ = await self._session.request("POST", path, body)
        except GwsHttpError as exc:
            raise GwsOperationError(operation, exc.status, exc.message) from exc
        except TimeoutError as exc:
            raise GwsOperationError(operation, None, "timed out") from exc
        except aiohttp.ClientError as exc:
            raise GwsOperationError(operation, None, f"{type(exc).__name__}: {exc}") from exc
        status = _status_code(reply)
        if status not in (0, 1):  # 1: accepted, result follows asynchronously
            raise GwsOperationError(operation, 200, f"statusCode {status}: {_message(reply)}")


def _status_code(reply: Any) -> object:
    if not isinstance(reply, dict):
        return None
    if "status" in reply and isinstance(reply["status"], dict):  # v3: {"status": {"code": 0}}
        return reply["status"].get("code")
    return reply.get("statusCode")


def _message(reply: Any) -> str:
    if isinstance(reply, dict):
        status = reply.get("status")
        if isinstance(status, dict):
            return str(status.get("message", ""))
        return str(reply.get("statusMessage", ""))
    return str(reply)[:200]
