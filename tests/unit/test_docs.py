"""Generated documentation stays in step with the code it describes."""

from __future__ import annotations

from ctibridge.config import Correlation
from tools.docs_gen import DIVERGENCE, render_divergence


def test_divergence_doc_is_current() -> None:
    assert DIVERGENCE.read_text(encoding="utf-8") == render_divergence(), "run: python -m tools.docs_gen"


def test_divergence_doc_names_the_real_key_and_default() -> None:
    grace = Correlation.model_fields["grace_period_s"]
    assert f"(`correlation.grace_period_s`, default {grace.default} s)" in render_divergence()
