"""Loaded with `-p faults.collect_plugin` into a `--collect-only` run of the acceptance suite.

Writes the collected checks (id -> phases, blocking, node id) as JSON to the file named by
PHASEGATE_SELFTEST_COLLECT_OUT, using the same ids phasegate's plugin builds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from phasegate.runstate import META


def pytest_collection_finish(session: pytest.Session) -> None:
    out = os.environ.get("PHASEGATE_SELFTEST_COLLECT_OUT")
    if not out:
        return
    checks = {}
    for item in session.items:
        meta = item.stash.get(META, None)
        if meta is not None:
            checks[meta.id] = {
                "phases": list(meta.phases),
                "blocking": meta.blocking,
                "nodeid": item.nodeid,
            }
    Path(out).write_text(json.dumps(checks, indent=1, sort_keys=True), encoding="utf-8")
