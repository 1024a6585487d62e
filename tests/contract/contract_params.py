"""The contract checks' parameters: one check id per operation, one per CRUD resource."""

from __future__ import annotations

import pytest

from phasegate.contract import OPERATIONS, RESOURCES


def _check_mark(title: str):
    # writes=True: an operation's fuzzing creates its pinned project, items and module (through
    # request.getfixturevalue, so the writing fixtures are not in the test's signature).
    return pytest.mark.check("contract", kind="contract", title=title, writes=True)


def operation_params():
    for op in OPERATIONS:
        yield pytest.param(
            op,
            id=op.param_id,
            marks=_check_mark(f"{op.label} honours the target's own OpenAPI contract"),
        )


def status_params():
    """The undocumented-status finding class of every operation: a check of its own, because it
    follows another severity rule (undocumented-4xx) than the operation's other findings."""
    for op in OPERATIONS:
        yield pytest.param(
            op,
            id=op.param_id,
            marks=pytest.mark.check(
                "contract.undocumented-status",
                kind="contract",
                title=f"{op.label} refuses input only with the statuses it documents",
                writes=True,
            ),
        )


def resource_params():
    for resource in RESOURCES:
        yield pytest.param(
            resource,
            id=f"crud-{resource.name}",
            marks=_check_mark(f"A {resource.name} resource exists after create, gone after delete"),
        )
