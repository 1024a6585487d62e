"""Where the drills run inside a phase: phase 4 on the embedded default only.

Against a deployment the drills cause downtime, so a phase run never starts them: they run only
through `phasegate drill ... --api-url URL` with the user's own commands. Deselected, not
skipped: a skipped blocking check would hold the phase INCONCLUSIVE forever.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.fixtures import settings_of

DRILLS_DIR = Path(__file__).parent


@pytest.hookimpl(trylast=True)  # after the plugin declared each check (its id, for the record)
def pytest_collection_modifyitems(config, items):
    if settings_of(config).embedded:
        return
    dropped = [item for item in items if item.path.parent == DRILLS_DIR]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
