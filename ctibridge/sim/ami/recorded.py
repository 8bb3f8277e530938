"""The shapes of real Asterisk 22 AMI messages, as recorded.

Provenance: copied from the raw AMI captures of Asterisk 22.10.1 (Debian sid package
``1:22.10.1+dfsg+~cs6.17.60671434-1``) in tests/recordings/asterisk-22 (see its SOURCES.md; captured
in the project's lab on 2026-11-25, project-owned, MIT like the rest of the repository): the key
order of the channel and bridge blocks, the literal field values Asterisk fills in, and the texts of
the action responses. Event *sequences* are in ``pbx.py``, each naming the capture it follows.
"""

from __future__ import annotations

GREETING = "Asterisk Call Manager/11.0.0"

# The channel block of every channel event, in wire order (a_basic.ami.txt, Newchannel).
CHANNEL_KEYS = (
    "Channel",
    "ChannelState",
    "ChannelStateDesc",
    "CallerIDNum",
    "CallerIDName",
    "ConnectedLineNum",
    "ConnectedLineName",
    "Language",
    "AccountCode",
    "Context",
    "Exten",
    "Priority",
    "Uniqueid",
    "Linkedid",
)
STATE_DESC = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
UNKNOWN = "<unknown>"

# The bridge block (a_basic.ami.txt, BridgeCreate/BridgeEnter).
BRIDGE_DEFAULTS = {
    "BridgeType": "basic",
    "BridgeTechnology": "simple_bridge",
    "BridgeCreator": UNKNOWN,
    "BridgeName": UNKNOWN,
}

PRIVILEGE = {"call": "call,all", "system": "system,all", "dialplan": "dialplan,all"}

# Response texts (asterisk-lab i_queries/e/f/g runs, main/manager.c).
AUTH_ACCEPTED = "Authentication accepted"
AUTH_FAILED = "Authentication failed"
GOODBYE = "Thanks for all the fish."
CHANNELS_FOLLOW = "Channels will follow"
STATUS_FOLLOWS = "Channel status will follow"
BRIDGES_FOLLOW = "Bridge listing will follow"
REGISTRATIONS_FOLLOW = "Following are Events for each Outbound registration"
REDIRECTED = "Redirect successful"
DUAL_REDIRECTED = "Dual Redirect successful"
BRIDGED = "Channels have been bridged"
TRANSFERRED = "Transfer succeeded"
ATXFER_QUEUED = "Atxfer successfully queued"
CANCEL_QUEUED = "CancelAtxfer successfully queued"
HUNG_UP = "Channel Hungup"
DTMF_QUEUED = "DTMF successfully queued"
NO_SUCH_CHANNEL = "No such channel"
INVALID_ACTION = "Invalid/unknown command: {action}. Use Action: ListCommands to show available commands."

CAUSE_TEXT = {16: "Normal Clearing", 127: "Interworking, unspecified"}
