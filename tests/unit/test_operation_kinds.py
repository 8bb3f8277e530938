"""Every operation the bridge can cause has one OperationKind: planned steps and repairs alike."""

from __future__ import annotations

import pytest

from ctibridge.core import divergence
from ctibridge.core.actions import GWS_OPERATIONS, AmiOp, GwsOp, OperationKind, operation_kind
from ctibridge.core.model import ACTION_ORDER


@pytest.mark.parametrize("action", [a for a in ACTION_ORDER if a != "answer"])  # only the phone answers
def test_every_channel_operation_has_a_kind(action: str) -> None:
    assert operation_kind(AmiOp(action)) == f"ami_{action}"


@pytest.mark.parametrize("operation", sorted(set(GWS_OPERATIONS.values())))
def test_every_gws_operation_has_a_kind(operation: str) -> None:
    assert operation_kind(GwsOp("5001", "c1", operation)) == f"gws_{operation.lower()}"


def test_every_repair_names_a_kind() -> None:
    assert {r.repair for r in divergence.RULES if r.repair} <= set(OperationKind)


def test_the_widget_actions_are_the_planners_actions() -> None:
    assert set(GWS_OPERATIONS) == set(ACTION_ORDER)


def test_an_unknown_operation_is_refused() -> None:
    with pytest.raises(ValueError):
        operation_kind(GwsOp("5001", "c1", "Teleport"))
