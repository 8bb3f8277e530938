"""The protocol models against docs/widget-protocol.md, and the generated schema file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ctibridge.hub import protocol
from ctibridge.hub.protocol import CLIENT_MESSAGE, SERVER_MESSAGE, CallView, ProtocolError

DOCS = Path(__file__).resolve().parents[2] / "docs"


def doc_json_blocks() -> list[dict]:
    text = (DOCS / "widget-protocol.md").read_text()
    blocks = []
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        try:
            blocks.append(json.loads(block))
        except json.JSONDecodeError:
            pass  # examples with placeholders such as ``[Call, ...]``
    return blocks


def test_every_complete_example_of_the_doc_validates():
    blocks = doc_json_blocks()
    calls = [b for b in blocks if "type" not in b]
    messages = [b for b in blocks if "type" in b]
    assert len(calls) == 1 and len(messages) >= 3
    CallView.model_validate(calls[0])
    for message in messages:
        if message["type"] in ("hello", "action"):
            CLIENT_MESSAGE.validate_python(message)
        elif message["type"] != "delta":  # its "op" and "call" are placeholders
            SERVER_MESSAGE.validate_python(message)


def test_call_view_refuses_unknown_fields_and_states():
    call = next(b for b in doc_json_blocks() if "type" not in b)
    with pytest.raises(ValueError, match="extra"):
        CallView.model_validate({**call, "colour": "red"})
    with pytest.raises(ValueError, match="state"):
        CallView.model_validate({**call, "state": "dancing"})


@pytest.mark.parametrize(("frame", "code", "says"), [
    ("{", "bad_json", "Invalid JSON"),
    ('{"type": "hello", "dn": "5001"}', "bad_message", "hello.credential"),
    ('{"type": "hello", "dn": "5001", "token": "t"}', "bad_message", "token: Extra inputs"),
    ('{"type": "hello", "dn": "5001", "credential": {"kind": "password", "token": "t"}}', "bad_message",
     "credential"),
    ('{"type": "hello", "dn": "5001", "credential": {"kind": "jwt"}}', "bad_message", "token"),
    ('{"type": "action", "id": "a", "call_id": "c", "action": "blind_transfer"}', "bad_message",
     "params.destination"),
    ('{"type": "action", "id": "a", "call_id": "c", "action": "dtmf", "params": {"digits": "12;"}}',
     "bad_message", "digits"),
    ('{"type": "action", "id": "a", "call_id": "c", "action": "explode"}', "bad_message", "action"),
    ('{"type": "ping", "extra": 1}', "bad_message", "extra"),
    ('{"type": "hello", "credential": {"kind": "session"}, "dn": "5001", "since": {"epoch": "e", "seq": -1}}',
     "bad_message",
     "since.seq"),
])
def test_bad_client_frames_say_what_was_wrong(frame, code, says):
    with pytest.raises(ProtocolError) as err:
        protocol.parse_client_message(frame)
    assert err.value.reply.code == code and says in err.value.reply.message


def test_schema_file_is_up_to_date(capsys):
    assert protocol.main([]) == 0
    printed = capsys.readouterr().out
    assert (DOCS / "widget-protocol.schema.json").read_text() == printed, \
        "regenerate: ctibridge schema > docs/widget-protocol.schema.json"
    schema = json.loads(printed)
    assert {"ClientMessage", "ServerMessage", "CallView"} <= set(schema["$defs"])
    assert protocol.main(["--bogus"]) == 2
