"""WWE options that host the ctibridge widget as web content speaking the WWE Service Client API.

Option names are the public ones (GenesysPureEngage/workspace-development-kit,
``wwe-service-client-api/README.md``): in ``[interaction-workspace]``, ``workspace.web-content``
names the web-content section and ``service-client-api.accepted-web-content-origins`` lists the
origins WWE lets talk to it; the web-content section holds ``label`` and ``url``.

The widget URL carries only what is not secret (``wweOrigins``: where WWE runs, so the widget posts
to that exact origin; optional ``dataKeys``); a URL naming a token or password is refused.

    ctibridge wwe-options --widget-url https://cti.example.com/widget/ --wwe-origin https://wwe.example.com

prints the sections in Config Server's text form (``--format json``: the form the WWE stand-in of
``ctibridge/sim/wwe/`` reads).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

WORKSPACE_SECTION = "interaction-workspace"
SECRET_PARAMETERS = frozenset({"token", "sipPassword", "password", "jwt"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

Options = dict[str, dict[str, str]]


class OptionsError(ValueError):
    """A widget URL or origin WWE could not use safely."""


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``. Plain http only on loopback: the widget's microphone
    needs a secure context."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OptionsError(f"not an http(s) URL: {url!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise OptionsError(f"{url!r}: use https (browsers give the microphone to secure pages only)")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def widget_url(base: str, wwe_origins: Sequence[str], data_keys: Sequence[str] = ()) -> str:
    """``base`` with the widget's non-secret parameters added."""
    origin_of(base)
    parts = urlsplit(base)
    query = parse_qsl(parts.query, keep_blank_values=True)
    secrets_named = sorted({key for key, _ in query} & SECRET_PARAMETERS)
    if secrets_named:
        named = ", ".join(secrets_named)
        raise OptionsError(f"the widget URL must not carry {named}: secrets never go in a URL")
    query.append(("wweOrigins", ",".join(origin_of(o) for o in wwe_origins)))
    if data_keys:
        query.append(("dataKeys", ",".join(data_keys)))
    return urlunsplit(parts._replace(query=urlencode(query, safe=",:/")))


def wwe_options(
    base_url: str,
    wwe_origins: Sequence[str],
    *,
    section: str = "CtiBridgePhone",
    label: str = "Phone",
    data_keys: Sequence[str] = (),
) -> Options:
    """The WWE options hosting the widget at ``base_url`` for a WWE served at ``wwe_origins``."""
    if not wwe_origins:
        raise OptionsError("at least one WWE origin is needed")
    if not section or any(c in section for c in "[],= "):
        raise OptionsError(f"bad section name {section!r}")
    url = widget_url(base_url, wwe_origins, data_keys)
    return {
        WORKSPACE_SECTION: {
            "workspace.web-content": section,
            "service-client-api.accepted-web-content-origins": origin_of(url),
        },
        section: {"label": label, "url": url},
    }


def render_cfg(options: Options) -> str:
    """Config Server's sections as text (``[section]`` then ``option=value`` lines)."""
    blocks = ["\n".join([f"[{name}]", *(f"{k}={v}" for k, v in values.items())])
              for name, values in options.items()]
    return "\n\n".join(blocks) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="ctibridge wwe-options", description=__doc__.split("\n\n")[0])
    parser.add_argument("--widget-url", required=True,
                        help="where the widget is served, e.g. https://cti.example.com/widget/")
    parser.add_argument("--wwe-origin", action="append", required=True,
                        help="origin WWE is served at (repeatable)")
    parser.add_argument("--section", default="CtiBridgePhone", help="web-content section name")
    parser.add_argument("--label", default="Phone", help="the tab label agents see")
    parser.add_argument("--data-key", action="append", default=[],
                        help="attached-data key to show (repeatable)")
    parser.add_argument("--format", choices=("cfg", "json"), default="cfg")
    args = parser.parse_args(argv)
    try:
        options = wwe_options(args.widget_url, args.wwe_origin, section=args.section, label=args.label,
                              data_keys=args.data_key)
    except OptionsError as exc:
        print(f"ctibridge wwe-options: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(options, indent=2) if args.format == "json" else render_cfg(options), end="")
    if args.format == "json":
        print()
    return 0
