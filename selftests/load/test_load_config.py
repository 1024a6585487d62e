"""Load settings from the environment, the locust command lines, and the phase profiles."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from phasegate.durations import parse_duration
from phasegate.load.command import (
    ENV_LEDGER,
    ENV_RUN_ID,
    ENV_SHAPE,
    LoadPlan,
    PlanError,
    locust_argv,
    locust_env,
    master_argv,
    project_prefix,
    worker_argv,
)
from phasegate.load.config import LoadSettingsError, load_settings
from phasegate.load.profiles import PHASE_PROFILES, PROFILES, profile_for_phase
from phasegate.traffic import mix

REPO = Path(__file__).resolve().parents[2]
LOCUSTFILES = REPO / "tests" / "load"


def plan(tmp_path: Path, **changes) -> LoadPlan:
    values = {
        "host": "http://127.0.0.1:8080",
        "locustfiles": LOCUSTFILES,
        "out_dir": tmp_path,
        "users": 20,
        "run_time_s": 60,
        "spawn_rate": 2.0,
        "user_classes": ("InternalTeamUser", "AgentPackUser"),
        "tags": ("phase2",),
        "run_id": "pg-test-abc",
    }
    values.update(changes)
    return LoadPlan(**values)


def test_defaults_are_bounded_and_documented():
    settings = load_settings({})
    # No duration: the load gate sizes the run from the mix (phasegate.load.sizing).
    assert (settings.users, settings.duration_s, settings.workers) == (10, None, 0)
    assert settings.spawn_rate == 1.0
    assert set(settings.sources.values()) == {"default"}


def test_environment_values_are_read():
    settings = load_settings(
        {
            "PHASEGATE_LOAD_USERS": "50",
            "PHASEGATE_LOAD_DURATION": "1m30s",
            "PHASEGATE_LOAD_WORKERS": "2",
            "PHASEGATE_LOAD_SPAWN_RATE": "10",
        }
    )
    assert (settings.users, settings.duration_s, settings.workers) == (50, 90, 2)
    assert settings.spawn_rate == 10.0
    assert settings.sources["PHASEGATE_LOAD_USERS"] == "environment"
    assert load_settings({"PHASEGATE_LOAD_USERS": "50"}).spawn_rate == 5.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PHASEGATE_LOAD_USERS", "0"),
        ("PHASEGATE_LOAD_USERS", "100000"),
        ("PHASEGATE_LOAD_USERS", "lots"),
        ("PHASEGATE_LOAD_DURATION", "2s"),
        ("PHASEGATE_LOAD_DURATION", "3h"),
        ("PHASEGATE_LOAD_DURATION", "soon"),
        ("PHASEGATE_LOAD_DURATION", "45.5s"),
        ("PHASEGATE_LOAD_WORKERS", "-1"),
        ("PHASEGATE_LOAD_WORKERS", "65"),
        ("PHASEGATE_LOAD_SPAWN_RATE", "0"),
        ("PHASEGATE_LOAD_SPAWN_RATE", "fast"),
    ],
)
def test_bad_values_name_the_variable(name, value):
    with pytest.raises(LoadSettingsError) as caught:
        load_settings({name: value})
    assert name in str(caught.value)
    assert repr(value) in str(caught.value)


def test_durations():
    assert parse_duration("45") == 45
    assert parse_duration("45s") == 45
    assert parse_duration("2m") == 120
    assert parse_duration("1h") == 3600
    assert parse_duration(" 1m30s ") == 90
    assert parse_duration("1.5m") == 90
    for bad in ("", "m", "-5", "5 s"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_single_process_command(tmp_path):
    argv = locust_argv(plan(tmp_path))
    assert argv[1:5] == ["-m", "locust", "-f", str(LOCUSTFILES)]
    # user classes are positional and come before every option; --tags takes the rest
    assert argv[5:7] == ["InternalTeamUser", "AgentPackUser"]
    assert argv[-2:] == ["--tags", "phase2"]
    line = " ".join(argv)
    for expected in (
        "--headless",
        "--users 20",
        "--spawn-rate 2",
        "--run-time 60s",
        "--stop-timeout 30s",
        f"--json-file {tmp_path / 'locust'}",
        f"--csv {tmp_path / 'locust'}",
        f"--html {tmp_path / 'locust.html'}",
        "--host http://127.0.0.1:8080",
    ):
        assert expected in line
    assert "--master" not in argv


def test_distributed_commands_bind_the_master_to_loopback(tmp_path):
    distributed = plan(tmp_path, workers=3)
    master = master_argv(distributed, 5599)
    line = " ".join(master)
    assert "--master --master-bind-host 127.0.0.1 --master-bind-port 5599" in line
    assert "--expect-workers 3" in line
    assert master[-2:] == ["--tags", "phase2"]
    worker = worker_argv(distributed, 5599)
    assert "--worker --master-host 127.0.0.1 --master-port 5599" in " ".join(worker)
    assert "--headless" not in worker and "--users" not in worker


def test_environment_of_the_run(tmp_path):
    base = {"LOCUST_USERS": "999", "PHASEGATE_LOAD_SHAPE": "spike", "PATH": "/usr/bin"}
    env = locust_env(plan(tmp_path), base)
    assert "LOCUST_USERS" not in env and ENV_SHAPE not in env
    assert env[ENV_RUN_ID] == "pg-test-abc"
    assert env[ENV_LEDGER] == str(tmp_path / "locust-ledger.jsonl")
    assert env["PATH"] == "/usr/bin"
    assert locust_env(plan(tmp_path, shape="ramp"), base)[ENV_SHAPE] == "ramp"
    assert project_prefix("pg-x") == "pg-x-load-"


def test_relative_paths_are_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    relative = plan(tmp_path, out_dir=Path("reports/load"))
    assert relative.out_dir == tmp_path / "reports" / "load"
    assert relative.artifacts.json == tmp_path / "reports" / "load" / "locust.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"host": "ftp://example"}, "http"),
        ({"host": "not a url"}, "http"),
        ({"users": 0}, "users"),
        ({"users": 5000}, "users"),
        ({"run_time_s": 1}, "run_time"),
        ({"run_time_s": 100_000}, "run_time"),
        ({"workers": 100}, "workers"),
        ({"spawn_rate": 0.0}, "spawn_rate"),
        ({"stop_timeout_s": 1000}, "stop_timeout"),
        ({"shape": "zigzag"}, "shape"),
    ],
)
def test_unbounded_plans_are_refused(tmp_path, change, message):
    with pytest.raises(PlanError, match=message):
        plan(tmp_path, **change)


def test_hard_timeout_covers_run_ramp_and_cleanup(tmp_path):
    bounded = plan(tmp_path)
    assert 60 + 10 + 30 < bounded.hard_timeout_s <= 60 + 10 + 30 + 60


def test_every_profile_names_real_classes_and_tags():
    """Classes from the source text (locust is never imported into pytest), tasks from the mix."""
    source = "\n".join(p.read_text() for p in LOCUSTFILES.glob("*.py"))
    declared = dict(
        re.findall(r"^class (\w+)\(SkillMeatUser\):\n    profile = (\w+)$", source, re.MULTILINE)
    )
    assert set(declared) == {"InternalTeamUser", "AgentPackUser", "ProductionReaderUser"}
    # Each class takes its tasks from the mix profile of its own name.
    users = {name: getattr(mix, constant) for name, constant in declared.items()}
    assert all(user.name == name for name, user in users.items())
    for profile in PROFILES.values():
        assert set(profile.user_classes) <= set(users)
        for tag in profile.tags:
            assert all(users[name].tasks_for(tag) for name in profile.user_classes), tag
    assert profile_for_phase("phase2").name == "internal"
    assert profile_for_phase("phase4").name == "production"
    assert set(PHASE_PROFILES) == {"phase2", "phase3", "phase4"}
    with pytest.raises(ValueError, match="phase1"):
        profile_for_phase("phase1")


def test_locustfiles_are_locustfiles_or_underscore_helpers():
    """`locust -f tests/load` imports every .py there that does not start with _."""
    for path in LOCUSTFILES.glob("*.py"):
        text = path.read_text()
        if path.name.startswith("_"):
            continue
        assert re.search(r"^(from|import) locust\b", text, re.M), path.name
        assert path.name != "locust.py"
