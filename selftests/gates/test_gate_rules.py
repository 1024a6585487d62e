"""phasegate's alert rules through promtool: they load; each fires only on a violating series."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from phasegate.stack.monitoring import packaged_rules

HERE = Path(__file__).parent
RULES = HERE.parent.parent / "src" / "phasegate" / "gates" / "alert-rules.yml"
PROMTOOL = "/usr/bin/promtool"  # Debian's prometheus package, beside the server itself


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.fail(f"{PROMTOOL} is missing: install Debian's prometheus package (make system)")
    return subprocess.run(
        [PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_packaged_rules_are_the_checked_in_file() -> None:
    assert packaged_rules() == RULES.read_text("utf-8")


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


def test_promtool_test_rules() -> None:
    done = promtool("test", "rules", str(HERE / "rules-test.yml"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_rule_has_a_severity_and_a_unit_test() -> None:
    rules = RULES.read_text("utf-8")
    tests = (HERE / "rules-test.yml").read_text("utf-8")
    names = [line.split(":", 1)[1].strip() for line in rules.splitlines() if "- alert:" in line]
    assert len(names) == 10
    for name in names:
        assert f"alertname: {name}\n" in tests, f"{name} has no promtool unit test"
    assert rules.count("severity: P") == len(names)


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: rate(up[5m]\n"
    )
    done = promtool("check", "rules", str(broken))
    assert done.returncode == 1
