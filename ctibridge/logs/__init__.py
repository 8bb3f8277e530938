"""The event log: its JSON Lines format, replay through the core, timelines, and recording."""
