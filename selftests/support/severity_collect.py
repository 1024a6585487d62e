"""Loaded with `-p support.severity_collect` into a `--collect-only` run of the whole suite.

Writes every collected check (id, phases, the severity phasegate resolved, the marker's own
`blocking=` when it declares one, the description) as JSON to PHASEGATE_SELFTEST_SEVERITY_OUT,
for the severity catalog's coverage test.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phasegate.runstate import META

_DESELECTED: list[pytest.Item] = []


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Checks a run against a deployment never collects (the drills, the embedded auth modes)."""
    _DESELECTED.extend(items)


def pytest_collection_finish(session: pytest.Session) -> None:
    out = os.environ.get("PHASEGATE_SELFTEST_SEVERITY_OUT")
    if not out:
        return
    phase = session.config.option.markexpr or ""
    # Items deselected for another phase are collected in that phase's own run; those of this
    # phase that a deployment run drops (embedded-only checks) are counted here.
    dropped = [
        item for item in _DESELECTED if META in item.stash and phase in item.stash[META].phases
    ]
    checks = {}
    for item in [*dropped, *session.items]:
        meta = item.stash.get(META, None)
        if meta is None:
            continue
        marker = item.get_closest_marker("check")
        declared = marker.kwargs.get("blocking") if marker is not None else None
        checks[meta.id] = {
            "phases": list(meta.phases),
            "declared_id": marker.args[0] if marker is not None else meta.id,
            "declared_blocking": declared,
            "blocking": meta.blocking,
            "rule": meta.rule,
            "severity": meta.severity,
            "description": meta.description,
            "nodeid": item.nodeid,
        }
    Path(out).write_text(json.dumps(checks, indent=1, sort_keys=True), encoding="utf-8")
