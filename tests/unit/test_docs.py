"""Generated documentation stays in step with the code it describes."""

from __future__ import annotations

import os
from pathlib import Path

from ctibridge.core.divergence import divergence_doc

DOCS = Path(__file__).parent.parent.parent / "docs"


def test_divergence_doc_is_current() -> None:
    path = DOCS / "divergence.md"
    if os.environ.get("CTIBRIDGE_UPDATE_EXPECTED"):
        path.write_text(divergence_doc())
    assert path.read_text() == divergence_doc()
