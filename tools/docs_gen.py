"""Writes the generated documents: docs/configuration.md from the settings model
(``ctibridge.config.Settings``) and docs/divergence.md from the divergence rules
(``ctibridge.core.divergence``) with the configuration keys that tune them.

    python -m tools.docs_gen            # rewrite both
    python -m tools.docs_gen --check    # exit 1 when one is not current

Each key's meaning is its ``Field(description=...)`` or else the comment beside it in
docs/config.example.toml, so the example file and this reference never say different things.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ctibridge.config import Correlation, Settings
from ctibridge.core import dialplan, divergence

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "configuration.md"
DIVERGENCE = ROOT / "docs" / "divergence.md"
EXAMPLE = ROOT / "docs" / "config.example.toml"

HEADER = """# Configuration reference

Generated from `ctibridge/config.py` (`Settings`) by `python -m tools.docs_gen`;
`tests/docs/test_configuration_doc.py` keeps it current. Annotated example:
[config.example.toml](config.example.toml). Validate a file with `ctibridge check-config FILE`.

Sources, strongest first: the environment (`CTIBRIDGE_<SECTION>__<KEY>`, nested with `__`; lists
and tables as JSON), then the TOML file given to `ctibridge run --config`. A secret is given
inline (better: by environment) or as `<name>_file` holding only the secret, never both; secrets
are never printed, logged or shown on `/readyz`.
"""


def _example_comments() -> dict[str, str]:
    """``section.key`` -> the comment beside it in the example file."""
    comments: dict[str, str] = {}
    section = ""
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        head = re.match(r"^\[\[?([\w.]+)\]\]?", line)
        if head:
            section = head.group(1)
            continue
        m = re.match(r"^#?\s*(\w+)\s*=.*?#\s*(.+)$", line)
        if m and not line.lstrip().startswith("# ") and section:
            comments.setdefault(f"{section}.{m.group(1)}", m.group(2).strip())
    return comments


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:  # FilePath and friends
        return "file path" if "file" in repr(annotation) else _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names) + (" (optional)" if type(None) in args else "")
    if origin is typing.Literal:
        return " or ".join(f"`{json.dumps(a)}`" for a in args)
    if origin is not None:
        inner = ", ".join(_type_name(a) for a in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    if annotation is type(None):
        return "none"
    if annotation is SecretStr:
        return "secret"
    return getattr(annotation, "__name__", str(annotation)).replace("Path", "path")


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None:
        return "-"
    return f"`{json.dumps(value, default=str)}`"


def _section_model(annotation: Any) -> type[BaseModel] | None:
    candidates = typing.get_args(annotation) or (annotation,)
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
        inner = _section_model(candidate) if typing.get_args(candidate) else None
        if inner is not None:
            return inner
    return None


def _rows(
    model: type[BaseModel], path: list[str], comments: dict[str, str], in_list: bool = False
) -> list[str]:
    rows, nested = [], []
    for name, field in model.model_fields.items():
        sub = _section_model(field.annotation)
        if sub is not None and typing.get_origin(field.annotation) is not list:
            nested.append((name, sub))
            continue
        key = ".".join([*path, name])
        env = "(in the list's JSON)" if in_list else "`CTIBRIDGE_" + "__".join([*path, name]).upper() + "`"
        meaning = field.description or comments.get(key, "")
        if sub is not None:  # a list of tables
            meaning = (meaning + " " if meaning else "") + f"(a list of `[[{key}]]` tables, below)"
        rows.append(
            f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {env} | "
            f"{meaning.replace('|', '/')} |"
        )
    out = []
    if rows:
        out += [
            f"\n## `[{'.'.join(path)}]`\n",
            "| key | type | default | environment | meaning |",
            "|---|---|---|---|---|",
            *rows,
        ]
    for name, sub in nested:
        out += _rows(sub, [*path, name], comments, in_list)
    for name, field in model.model_fields.items():
        sub = _section_model(field.annotation)
        if sub is not None and typing.get_origin(field.annotation) is list:
            out += _rows(sub, [*path, name], comments, in_list=True)
    return out


def render() -> str:
    comments = _example_comments()
    lines = [HEADER]
    for name, field in Settings.model_fields.items():
        sub = _section_model(field.annotation)
        assert sub is not None, f"top-level setting {name} is not a section"
        required = " (required section)" if field.is_required() else ""
        lines += [
            line.replace(f"## `[{name}]`", f"## `[{name}]`{required}", 1)
            for line in _rows(sub, [name], comments)
        ]
    return "\n".join(lines) + "\n"


def _divergence_intro() -> str:
    grace = Correlation.model_fields["grace_period_s"].default
    return f"""# Divergence: when Genesys and Asterisk disagree

Generated from `ctibridge/core/divergence.py` (`RULES`) by `python -m tools.docs_gen`;
`tests/unit/test_docs.py` keeps it current.

Each call has a Genesys state and an Asterisk state (see [correlation.md](correlation.md)). They
*agree* when they are equal, when one of the pairs below describes the same situation, or when a
side is missing that is not expected to report (no GWS session for the DN, no AMI connection).
When they disagree the call's `sync` becomes `pending` with the first matching rule; if the
disagreement lasts longer than the grace period (`correlation.grace_period_s`, default {grace} s) it
becomes `diverged`, the metric `ctibridge_divergences_total{{rule}}` counts it, and a rule with a
repair asks the bridge to carry it out, if that repair is enabled (`correlation.auto_repair`). An
operation the bridge has started on a call is not repaired again until it completes or times out,
so repairs never loop."""


def render_divergence() -> str:
    lines = [_divergence_intro(), "", "## Rules (first match wins)", "",
             "| rule | when | repair | repaired by default | shown to the agent |", "|---|---|---|---|---|"]
    for rule in divergence.RULES:
        lines.append(f"| `{rule.id}` | {rule.when} | {rule.repair or '-'} | "
                     f"{'yes' if rule.repair_default else 'no'} | {rule.detail} |")
    lines += ["", "## Pairs that agree although the states differ", "", "| Genesys | Asterisk |", "|---|---|"]
    lines += [f"| {g.value} | {a.value} |" for g, a in sorted(divergence.EQUIVALENT)]
    lines += ["", "Repairs: `ami_hangup` hangs up the agent leg on Asterisk, `ami_hold` parks both legs in",
              f"the `{dialplan.HOLD_CONTEXT}` context (music for the customer), `ami_retrieve` bridges them",
              "back, `gws_hangup` sends GWS `Hangup`.", ""]
    return "\n".join(lines)


GENERATED = {TARGET: render, DIVERGENCE: render_divergence}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the files are current")
    args = parser.parse_args(argv)
    stale = 0
    for target, render_target in GENERATED.items():
        text = render_target()
        if not args.check:
            target.write_text(text, encoding="utf-8")
        elif not (target.exists() and target.read_text(encoding="utf-8") == text):
            print(f"{target} is not current: run python -m tools.docs_gen", file=sys.stderr)
            stale += 1
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
