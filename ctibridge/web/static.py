"""``GET /widget/...``: the widget's own assets and nothing else.

The allow-list is built once at start from the widget directory shipped in the package: the
page, its modules, style sheet and icon, the WWE embedding files, and the vendored SIP.js
(``widget/vendor/sip.js/``, the pinned npm release copied in by ``tools/vendor_sipjs.py``). A name
not on the list is a 404, so nothing else under the directory (``node_modules/``, the README,
``package.json``, an editor's backup) is ever served, and no path can leave the directory.

Every asset carries the security headers of ``ctibridge.web.security``.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

ASSET_SUFFIXES = frozenset({".html", ".js", ".css", ".svg"})
SKIPPED_DIRS = frozenset({"node_modules"})


def widget_assets(widget_dir: Path) -> dict[str, Path]:
    """URL path below ``/widget/`` -> file, for every servable asset of the widget."""
    assets: dict[str, Path] = {}
    for path in sorted(widget_dir.rglob("*")):
        relative = path.relative_to(widget_dir)
        if (path.is_file() and path.suffix in ASSET_SUFFIXES and not path.is_symlink()
                and not SKIPPED_DIRS.intersection(relative.parts)):
            assets[relative.as_posix()] = path
    return assets


def add_widget_routes(app: web.Application, widget_dir: Path) -> None:
    assets = widget_assets(widget_dir)
    assets[""] = widget_dir / "index.html"

    async def serve(request: web.Request) -> web.FileResponse:
        path = assets.get(request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="not a widget asset")
        return web.FileResponse(path, headers={"Cache-Control": "no-cache"})

    app.router.add_get("/widget/{path:.*}", serve)
