"""The access log without secrets: aiohttp's default format writes the full request line (a
``?token=`` in it) and the Referer (the widget page's URL, with whatever query it had). This one
writes the path only, never the query string, the Referer, cookies or Authorization."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class RedactedAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        query = " ?<redacted>" if request.query_string else ""
        self.logger.info('%s "%s %s%s" %s %s %.1fms', request.remote, request.method, request.path,
                         query, response.status, response.body_length, time * 1000)
