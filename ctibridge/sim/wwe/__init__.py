"""The WWE stand-in: a browser agent desktop served by the GWS simulator at ``/ui/wwe/``, the way
GWS serves WWE. It logs the agent in to the simulator, shows the agent state and the interactions
(REST v2 + CometD, as WWE 8.5 does), and hosts the web content named by its WWE options
(``ctibridge.gateway.wwe_options``) in iframes that talk to it through the real Service Client API.

The options are the simulator's ``wwe_options`` (served at ``/ui/wwe/options``); the page's
Content-Security-Policy allows frames from the web-content URLs only, and no inline script.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from ctibridge.gateway.wwe_options import WORKSPACE_SECTION, Options, origin_of

STATIC = Path(__file__).resolve().parent / "static"
PREFIX = "/ui/wwe/"


def content_security_policy(options: Options) -> str:
    sections = options.get(WORKSPACE_SECTION, {}).get("workspace.web-content", "").split(",")
    frames = sorted({origin_of(options[s]["url"]) for s in map(str.strip, sections) if s in options})
    frame_src = " ".join(frames) or "'none'"
    return ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            f"frame-src {frame_src}")


def add_routes(router: web.UrlDispatcher, options: Callable[[], Options]) -> None:
    """``options()`` gives the current WWE options (a test or the demo may set them after start)."""

    async def page(request: web.Request) -> web.FileResponse:
        name = request.match_info.get("name") or "index.html"
        path = STATIC / name
        if "/" in name or not path.is_file():
            raise web.HTTPNotFound()
        response = web.FileResponse(path)
        response.headers["Content-Security-Policy"] = content_security_policy(options())
        return response

    async def get_options(request: web.Request) -> web.Response:
        return web.json_response(options())

    router.add_get(PREFIX + "options", get_options)
    router.add_get(PREFIX, page)
    router.add_get(PREFIX + "{name}", page)
