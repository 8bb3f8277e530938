"""The defaults of every setting that both the configuration file (``ctibridge.config``) and an
adapter's own settings know: one value each, so a component built without a configuration file
(tests, replay, the demo) behaves as a configured service does.

``docs/configuration.md`` shows them under their configuration keys (``tools/docs_gen.py``).
"""

from __future__ import annotations

# [ami]
AMI_PING_INTERVAL_S = 5.0  # ping Asterisk this often ...
AMI_PING_DEADLINE_S = 3.0  # ... and drop the link when no Pong comes within this
RECONNECT_MIN_S = 0.5  # first delay before reconnecting a lost AMI or GWS link; doubles per failure
RECONNECT_MAX_S = 30.0  # ... up to this

# [correlation]
GRACE_PERIOD_S = 2.0  # the two sides may disagree this long before a call counts as diverged
FALLBACK_WINDOW_S = 5.0  # calls without a CallUUID are matched when first seen this close in time

# [actions]
STEP_TIMEOUT_S = 5.0  # one AMI or GWS operation
CONFIRM_TIMEOUT_S = 8.0  # until both sides' events show an action's result

# [store]
OWNERSHIP_TTL_S = 5.0  # the owner's lease; a follower takes over this long after the owner is gone

# [auth.rate_limit] and [auth]
RATE_PER_SECOND = 10.0  # widget messages and HTTP requests per credential, on average ...
RATE_BURST = 20  # ... and at once
MAX_FRAME_BYTES = 64 * 1024  # the largest widget WebSocket frame accepted
