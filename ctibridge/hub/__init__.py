"""The widget WebSocket protocol server: the one place unified call state leaves the bridge."""
