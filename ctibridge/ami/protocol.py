"""panoramisk's asyncio protocol, with the wire handled by us.

panoramisk 1.4 decodes every TCP read on its own (``decode('utf8', 'ignore')``), so a character
split across two reads is silently dropped ("José" -> "Jos"), and it serialises actions with the
module-global ``utils.EOL`` that ``panoramisk.testing`` rewrites to ``\\n``. This protocol keeps
panoramisk's action bookkeeping (``responses``, ``Action`` futures, ``handle_message``) but:

* buffers bytes and decodes whole frames only (``core.ami_parse.AmiFramer``), then hands every
  frame, as a raw AMI dict, to the sink *before* panoramisk routes it, so the sink sees wire order;
* writes actions itself with CRLF, never logging their content (the Login action has the secret).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from panoramisk import actions
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from ctibridge.core.ami_parse import AmiFramer, RawMessage

log = logging.getLogger("ctibridge.ami")


class FrameSink(Protocol):
    def frame_received(self, raw: RawMessage) -> None: ...
    def frame_oversized(self) -> None: ...
    def action_sent(self, action: Mapping[str, Any]) -> None: ...


def encode_action(action: Mapping[str, Any]) -> bytes:
    """One AMI action on the wire: ``Key: value`` lines (lists repeat the key), blank line."""
    lines = []
    for key, value in action.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            lines.append(f"{key}: {item}\r\n")
    return ("".join(lines) + "\r\n").encode("utf-8")


class FramedAmiProtocol(AMIProtocol):  # type: ignore[misc]
    def __init__(self, sink: FrameSink) -> None:
        self.sink = sink
        self.framer = AmiFramer()

    def data_received(self, data: bytes) -> None:
        oversized = self.framer.oversized
        frames = self.framer.feed(data)
        if self.framer.oversized != oversized:
            self.sink.frame_oversized()
        for raw in frames:
            if self.closed:  # a Shutdown (or the sink) ended the session: nothing after counts
                return
            self.sink.frame_received(raw)
            if "Event" in raw or "Response" in raw:
                message = Message(raw)
                message.raw = raw  # action results are returned as the raw dict, not panoramisk's
                self.handle_message(message)

    def send(self, data: Any, as_list: bool | None = False) -> Any:
        action = data if isinstance(data, actions.Action) else actions.Action(data, as_list=as_list)
        action.as_list = as_list
        self.responses[action.id] = action
        try:
            self.transport.write(encode_action(action))
        except Exception as exc:  # a closing transport: the action's deadline reports it
            log.warning("AMI: could not write action %s: %s", action.get("Action", "?"), exc)
        self.sink.action_sent(action)
        return action.future
