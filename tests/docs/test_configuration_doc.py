"""docs/configuration.md is generated from the settings model and must be current."""

from __future__ import annotations

import typing

from ctibridge.config import Settings
from tools.docs_gen import TARGET, main, render


def test_configuration_doc_is_current() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "run: python -m tools.docs_gen"
    assert main(["--check"]) == 0


def test_every_section_and_key_is_documented() -> None:
    text = render()
    for section, field in Settings.model_fields.items():
        assert f"## `[{section}]`" in text
        for key, sub in (getattr(field.annotation, "model_fields", {}) or {}).items():
            # a sub-section (optional ones too: [auth.jwt]) has its own heading
            kinds = (sub.annotation, *typing.get_args(sub.annotation))
            nested = any(hasattr(kind, "model_fields") for kind in kinds)
            assert (f"## `[{section}.{key}]`" if nested else f"| `{key}` |") in text, f"{section}.{key}"
