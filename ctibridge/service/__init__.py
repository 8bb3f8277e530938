"""The application layer: one ordered pipeline, the action executor, owner/follower, relay, metrics."""
