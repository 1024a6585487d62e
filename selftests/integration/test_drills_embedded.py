"""`phasegate drill all` on the real SkillMeat 0.74.0 (and 0.61.0 for the rollback), end to end.

What 0.74.0 does in the plan's emergency procedures, asserted so it stays true:

- drill.disable FAILs: the restarted API reports the flag OFF and is healthy, but memory writes
  still answer 201 (the phase-1 finding, now inside the emergency procedure). Every item,
  module and link is back after re-enabling.
- drill.recover FAILs: SkillMeat stops (SIGTERM) without checkpointing its WAL, so the plan's
  `cp` of the .db file misses the recently committed rows; restored, the API serves none of the
  recorded dataset. SQLite's online backup taken while the API writes holds every row.
- drill.rollback PASSes: 0.61.0 starts on the database 0.74.0 migrated, serves the dataset
  identical, and 0.74.0 serves it again after rolling forward.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

REPO = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((REPO / "src" / "phasegate" / "verdict.schema.json").read_text())


def holders_of(folder: Path) -> list[str]:
    """Processes with a file under `folder` open (a drill's server writes its log there)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:  # closed meanwhile
                continue
            if target.startswith(str(folder)):
                found.append(proc.name)
                break
    return found


def test_drills_on_real_skillmeat(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLMEAT_", "PHASEGATE_"))}
    done = subprocess.run(
        [sys.executable, "-m", "phasegate.cli", "drill", "all", "--report-dir", str(tmp_path)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = done.stdout + done.stderr
    path = tmp_path / "verdict-drill.json"
    assert path.exists(), output[-3000:]
    verdict = json.loads(path.read_text())
    jsonschema.validate(verdict, SCHEMA)
    assert done.returncode == 1 and verdict["decision"] == "NO_GO", output[-3000:]
    checks = {c["id"]: c for c in verdict["checks"]}
    assert {c["kind"] for c in checks.values()} == {"drill"}
    assert {i: c["outcome"] for i, c in checks.items()} == {
        "drill.disable": "fail",
        "drill.recover": "fail",
        "drill.rollback": "pass",
    }, {i: c["reason"] for i, c in checks.items()}

    disable = checks["drill.disable"]["evidence"]["facts"]["drill"]
    assert checks["drill.disable"]["reason"].startswith("the disable does not disable")
    assert disable["measured"]["flag_off_s"] is not None
    assert disable["measured"]["healthy_s"] is not None
    assert {p["status"] for p in disable["write_probes"]} == {201}
    assert disable["data_after_reenable"]["identical"] is True
    assert disable["traffic"]["requests"] > 0

    recover = checks["drill.recover"]["evidence"]["facts"]["drill"]
    plan_backup = recover["plan_backup"]
    assert plan_backup["integrity_check"] == "ok" and plan_backup["consistent"] is False
    assert plan_backup["wal_bytes_at_copy"] > 0
    assert recover["copies_while_writing"]["online_backup"]["consistent"] is True
    assert recover["damaged"]["consistent"] is False
    assert recover["restored_file"]["integrity_check"] == "ok"

    rollback = checks["drill.rollback"]["evidence"]["facts"]["drill"]
    assert rollback["measured"]["served_version"] == "0.61.0"
    assert rollback["data_on_previous_release"]["identical"] is True
    assert rollback["data_after_roll_forward"]["identical"] is True

    # Everything the run made is gone: its servers' project folders and the servers themselves.
    assert not (Path("/tmp/phasegate-projects") / verdict["run_id"]).exists()
    assert not [line for line in output.splitlines() if "cleanup incomplete" in line]
    assert holders_of(tmp_path) == [], "a drill's server still holds its log open"

    results = list((tmp_path / "allure-results").glob("drill-*-result.json"))
    assert len(results) == 3
    assert len(list((tmp_path / "allure-results").glob("drill-*-timeline.svg"))) == 3
