"""``GET /`` of the demo: one page that links everything (the agent desktop with the agents' logins,
the operator page, the health and the call timelines). It holds secrets (demo passwords, an
operator token), so it is served only by the demo, on 127.0.0.1, and never cached."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from ctibridge.web.keys import ROOT_PAGE


@dataclass(frozen=True)
class Login:
    dn: str
    username: str
    password: str


@dataclass(frozen=True)
class StartPage:
    title: str
    desktop_url: str
    logins: list[Login]
    notes: list[str]
    operator_token: Callable[[], str]  # a fresh one per visit

    def render(self) -> str:
        e = html.escape
        rows = "".join(f"<tr><td>{e(x.dn)}</td><td><code>{e(x.username)}</code></td>"
                       f"<td><code>{e(x.password)}</code></td></tr>" for x in self.logins)
        notes = "".join(f"<p>{e(n)}</p>" for n in self.notes)
        token = e(self.operator_token())
        return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>ctibridge demo</title><style>body{{font:15px system-ui,sans-serif;margin:2em;max-width:52em}}
td,th{{padding:.2em 1em;text-align:left}}</style></head><body>
<h1>ctibridge demo</h1><p>{e(self.title)}</p>{notes}
<h2>1. Agent desktop</h2>
<p><a id="desktop" href="{e(self.desktop_url)}">{e(self.desktop_url)}</a> — the WWE stand-in with the
ctibridge phone inside. Log in as one of:</p>
<table><tr><th>DN</th><th>username</th><th>password</th></tr>{rows}</table>
<p>Customers call the logged-in DNs every few seconds: answer in the phone panel, then Hold,
Retrieve, Transfer or Consult from the desktop or from the phone.</p>
<h2>2. Operator</h2>
<ul><li><a id="operator" href="/operator?token={token}">Live calls and registrations</a>
(each call links its timeline)</li><li><a href="/readyz">Readiness</a></li></ul>
</body></html>"""


def add_start_page(app: web.Application, page: StartPage) -> None:
    async def start(_: web.Request) -> web.Response:
        return web.Response(text=page.render(), content_type="text/html",
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    app[ROOT_PAGE] = start
