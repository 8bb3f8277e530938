"""aiohttp service: application factory, routes, auth, metrics, action executor."""
