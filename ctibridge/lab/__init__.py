"""The lab: simulators and the service wired together (``ctibridge demo``); the top layer, like the CLI."""
