"""Load runs against SkillMeat: locust as a bounded subprocess, its statistics, and the gate.

    plan = LoadPlan(host=url, locustfiles=Path("tests/load"), out_dir=Path("reports/load"),
                    users=20, run_time_s=60, spawn_rate=2.0,
                    user_classes=profile.user_classes, tags=profile.tags)
    run = run_locust(plan)                                  # subprocess, hard timeout
    stats = read_run_stats(plan.artifacts.json, plan.artifacts.stats_csv)
    result = evaluate(stats, LoadGateSpec())                # pure: PASS / FAIL / INCONCLUSIVE

Locust itself is never imported here: importing it patches the standard library through gevent,
which breaks pytest. The locustfiles live in tests/load.
"""

from phasegate.load.command import Artifacts, LoadPlan, PlanError
from phasegate.load.config import LoadSettings, LoadSettingsError, load_settings
from phasegate.load.gate import Judgement, LoadGateResult, LoadGateSpec, catalog_spec, evaluate
from phasegate.load.profiles import JUDGED_GROUPS, PROFILES, Profile, profile_for_phase
from phasegate.load.runner import LocustRun, run_locust
from phasegate.load.stats import (
    GroupStats,
    Histogram,
    LoadStats,
    StatsError,
    parse_csv,
    parse_json,
    read_run_stats,
)
from phasegate.load.sweep import SweepReport, sweep

__all__ = [
    "JUDGED_GROUPS",
    "PROFILES",
    "Artifacts",
    "GroupStats",
    "Histogram",
    "Judgement",
    "LoadGateResult",
    "LoadGateSpec",
    "LoadPlan",
    "LoadSettings",
    "LoadSettingsError",
    "LoadStats",
    "LocustRun",
    "PlanError",
    "Profile",
    "StatsError",
    "SweepReport",
    "catalog_spec",
    "evaluate",
    "load_settings",
    "parse_csv",
    "parse_json",
    "profile_for_phase",
    "read_run_stats",
    "run_locust",
    "sweep",
]
