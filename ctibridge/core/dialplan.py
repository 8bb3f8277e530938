"""The gateway dialplan names the bridge depends on: one home for each.

The generator (``ctibridge.gateway``) writes them into the Asterisk configuration by substitution;
the AMI operations, the parsers, the simulators and the timeline import them from here, so renaming
one here renames it everywhere.
"""

from __future__ import annotations

HOLD_CONTEXT = "ctibridge-hold"  # where the bridge parks both legs of a held call
HOLD_MUSIC_EXTEN = "moh"  # in HOLD_CONTEXT: the customer's leg hears music
HOLD_PARK_EXTEN = "park"  # in HOLD_CONTEXT: the agent's leg waits silently
TRANSFER_CONTEXT = "ctibridge-xfer"  # the context of AMI BlindTransfer / Atxfer targets

# Channel variables manager.conf ``channelvars`` puts on every AMI event.
CALL_UUID_VAR = "CALLUUID"  # X-Genesys-CallUUID: joins the Asterisk legs to the Genesys call
SIP_CALL_ID_VAR = "SIPCALLID"  # the trunk leg's SIP Call-ID, kept as an alias
TRACKED_VARS = (CALL_UUID_VAR, SIP_CALL_ID_VAR)


def inherited(var: str) -> str:
    """``__VAR``: as ``Set(__VAR=...)`` names a variable the channels this one dials inherit."""
    return f"__{var}"


def template_values() -> dict[str, str]:
    """The names above as the configuration templates spell their placeholders."""
    return {
        "hold_context": HOLD_CONTEXT,
        "hold_music_exten": HOLD_MUSIC_EXTEN,
        "hold_park_exten": HOLD_PARK_EXTEN,
        "transfer_context": TRANSFER_CONTEXT,
        "call_uuid_var": CALL_UUID_VAR,
        "sip_call_id_var": SIP_CALL_ID_VAR,
        "tracked_vars": ",".join(TRACKED_VARS),
    }
