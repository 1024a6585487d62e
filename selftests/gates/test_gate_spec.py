"""The gate catalog: every plan criterion is a row; overrides change rows by id, or fail clearly."""

from __future__ import annotations

from pathlib import Path

import pytest

from phasegate.durations import format_duration, parse_duration
from phasegate.gates.spec import (
    PHASE_WINDOWS_S,
    CatalogError,
    GateKind,
    GateSpec,
    NoData,
    Severity,
    load,
    load_catalog,
    resolve,
    select,
)

# rollout-plan.md criterion -> the catalog row that encodes it.
PLAN_CRITERIA = {
    "Error rate < 0.1%": "error-rate",
    "p95 latency < 500ms": "latency-p95",
    "P0 issues 0 / No P0 alerts fired": "alerts-p0",
    "Active alerts: Any P0/P1": "alerts-p1",
    "Memory usage < 512MB": "memory-rss",
    "CPU usage < 80% sustained": "cpu",
    "Database size growth > 10MB/day": "db-growth",
    "No memory leaks observed": "memory-leak",
    "Context pack generation time > 2s p95": "context-pack-p95",
    "Container memory > 450MB": "memory-alert-450",
    "No increase in error rate from baseline": "baseline-error-rate",
    "No increase in latency from baseline": "baseline-latency",
}


def test_packaged_catalog_has_a_row_for_every_plan_criterion() -> None:
    cat = load_catalog()
    assert set(PLAN_CRITERIA.values()) == set(cat.ids)
    for spec in cat.specs:
        assert spec.plan, f"{spec.id} names no plan text"


def test_rows_encode_the_plan_numbers() -> None:
    cat = load_catalog()
    assert cat.get("error-rate").threshold == 0.001
    assert cat.get("latency-p95").le == 0.5
    assert cat.get("latency-p95").threshold == 0.05
    assert cat.get("memory-rss").threshold == 512 * 1024 * 1024
    assert cat.get("memory-alert-450").threshold == 450 * 1024 * 1024
    assert cat.get("memory-alert-450").severity is Severity.WARNING
    assert cat.get("cpu").threshold == 0.8
    assert cat.get("cpu").sustain_s == 300
    assert cat.get("db-growth").threshold == 10 * 1024 * 1024
    assert cat.get("db-growth").per == "day"
    assert cat.get("context-pack-p95").le == 2.0
    assert cat.get("alerts-p0").severities == ("P0",)
    assert cat.get("alerts-p1").severities == ("P1",)
    assert cat.get("error-rate").sub_window_s == 300


def test_phase_selection() -> None:
    cat = load_catalog()
    phase1 = {s.id for s in cat.for_phase("phase1")}
    phase2 = {s.id for s in cat.for_phase("phase2")}
    assert {"baseline-error-rate", "baseline-latency", "alerts-p0"} <= phase1
    assert "memory-leak" not in phase1
    assert {"db-growth", "memory-leak", "context-pack-p95", "error-rate"} <= phase2
    assert not {"baseline-error-rate", "baseline-latency"} & phase2


def test_phase_window_is_the_plans_monitoring_duration() -> None:
    spec = load_catalog().get("error-rate")
    assert spec.window_s is None
    assert spec.window_for("phase1") == 4 * 3600
    assert spec.window_for("phase2") == 24 * 3600
    assert spec.window_for("phase4") == PHASE_WINDOWS_S["phase4"] == 48 * 3600


def test_resolved_queries_fill_the_selector() -> None:
    spec = load_catalog().get("error-rate")
    queries = spec.resolved('job="api",instance="canary:8080"')
    assert queries["events"].startswith(
        'skillmeat_api_requests_total{job="api",instance="canary:8080",status=~"5..",'
    )
    latency = load_catalog().get("latency-p95").resolved()
    assert latency["buckets"].startswith('skillmeat_api_request_duration_seconds_bucket{job="')
    assert latency["count"].startswith('skillmeat_api_request_duration_seconds_count{job="')


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("m{$selector}", "m"),
        ('m{$selector,a="1"}', 'm{a="1"}'),
        ('m{a="1",$selector}', 'm{a="1"}'),
        ("max(m{$selector})", "max(m)"),
    ],
)
def test_resolve_with_an_empty_selector_leaves_valid_promql(template: str, expected: str) -> None:
    assert resolve(template, "") == expected


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("4h", 14400),
        ("2d", 172800),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("5", 5),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m5", "5 minutes", "-5m", "0s", "0", "1h 30m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(300) == "5m"
    assert format_duration(5400) == "1h30m"
    assert format_duration(172800) == "2d"
    assert format_duration(2.5) == "2.5s"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.toml"
    path.write_text(text)
    return path


def test_override_changes_threshold_window_and_severity_by_id(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[gates.error-rate]
threshold = 0.002
window = "2h"
sub_window = "10m"
min_samples = 500

[gates.memory-rss]
query = 'max(container_memory_working_set_bytes{name="skillmeat-api"})'
severity = "warning"
no_data = "fail"
""",
    )
    cat = load(overrides=path)
    rate = cat.get("error-rate")
    assert (rate.threshold, rate.window_s, rate.sub_window_s, rate.min_samples) == (
        0.002,
        7200,
        600,
        500,
    )
    memory = cat.get("memory-rss")
    assert memory.query.startswith("max(container_memory_working_set_bytes")
    assert memory.severity is Severity.WARNING
    assert memory.no_data is NoData.FAIL
    # Untouched rows are the packaged ones.
    assert cat.get("cpu") == load_catalog().get("cpu")


def test_override_window_back_to_phase(tmp_path: Path) -> None:
    path = write(tmp_path, '[gates.cpu]\nwindow = "phase"\n')
    assert load(overrides=path).get("cpu").window_s is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[gates.error-rat]\nthreshold = 0.1\n", r"unknown gate id\(s\) \['error-rat'\]"),
        ("[gates.error-rate]\nthreshhold = 0.1\n", "'threshhold' cannot be overridden"),
        ("[gates.error-rate]\nkind = 'gauge'\n", "'kind' cannot be overridden"),
        ("[gates.error-rate]\nthreshold = 'low'\n", "threshold must be a number"),
        ("[gates.error-rate]\nthreshold = true\n", "threshold must be a number"),
        ("[gates.error-rate]\nthreshold = 1.5\n", r"proportion in \(0, 1\)"),
        ("[gates.error-rate]\nthreshold = nan\n", "must be finite"),
        ("[gates.error-rate]\nwindow = '5 minutes'\n", "not a duration"),
        ("[gates.error-rate]\nwindow = 300\n", "must be a duration"),
        ("[gates.error-rate]\nmin_samples = 0\n", "min_samples must be >= 1"),
        ("[gates.error-rate]\nmin_samples = 2.5\n", "min_samples must be an integer"),
        ("[gates.error-rate]\nseverity = 'fatal'\n", r"severity must be one of \['blocking'"),
        ("[gates.error-rate]\nno_data = 'pass'\n", r"no_data must be one of"),
        ("[gates.error-rate]\ncomparator = '>'\n", "judges an upper limit"),
        ("[gates.error-rate]\nphases = ['phase9']\n", "phases must be a non-empty subset"),
        ("[gates.db-growth]\nper = 'fortnight'\n", "per = one of"),
        ("[gates.alerts-p0]\nseverities = []\n", "needs `severities`"),
        ("[gates.error-rate]\nthreshold = [\n", "not valid TOML"),
        ("[error-rate]\nthreshold = 0.1\n", "put settings under"),
        ("gates = 3\n", "must be a table"),
    ],
)
def test_bad_override_files_fail_with_a_clear_message(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(CatalogError, match=message) as info:
        load(overrides=path)
    assert str(path) in str(info.value)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load(overrides=tmp_path / "absent.toml")


def test_select_unknown_id() -> None:
    with pytest.raises(CatalogError, match="unknown gate id"):
        select(load_catalog(), ["error-rate", "nope"])


def test_catalog_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "cat.toml"
    path.write_text('version = 1\n[[gate]]\nid = "x"\ntitle = "t"\nphases = ["phase1"]\n')
    with pytest.raises(CatalogError, match="missing key 'kind'"):
        load_catalog(path)
    path.write_text("version = 2\n")
    with pytest.raises(CatalogError, match="version = 1"):
        load_catalog(path)
    row = (
        '[[gate]]\nid = "g"\ntitle = "t"\nphases = ["phase1"]\nkind = "gauge"\n'
        'threshold = 1\nquery = "up"\n'
    )
    path.write_text("version = 1\n" + row + row)
    with pytest.raises(CatalogError, match=r"duplicate gate id\(s\) \['g'\]"):
        load_catalog(path)


def test_spec_validation_of_each_kind() -> None:
    base = {"id": "g", "title": "t", "phases": ("phase1",)}
    with pytest.raises(CatalogError, match="needs `events` and `total`"):
        GateSpec(**base, kind=GateKind.RATIO, threshold=0.1).validate()
    with pytest.raises(CatalogError, match="needs `histogram` and `le`"):
        GateSpec(**base, kind=GateKind.SLOW_SHARE, threshold=0.1).validate()
    with pytest.raises(CatalogError, match="needs `query`"):
        GateSpec(**base, kind=GateKind.GAUGE, threshold=1).validate()
    with pytest.raises(CatalogError, match="id must be"):
        GateSpec(
            id="Bad Id", title="t", phases=("phase1",), kind=GateKind.GAUGE, threshold=1
        ).validate()
    ok = GateSpec(**base, kind=GateKind.GAUGE, threshold=1, query="up").validate()
    assert ok.to_dict()["kind"] == "gauge"


def test_the_load_gate_is_a_catalog_row_apart_from_the_metric_gates() -> None:
    cat = load_catalog()
    row = cat.load_gate
    assert (row.id, row.kind) == ("load-p95", GateKind.LOAD)
    assert (row.le, row.threshold, row.min_samples, row.min_group_samples) == (0.5, 0.05, 300, 50)
    # Failures are judged against the plan's 0.1% error rate, as every error gate is.
    assert (row.max_failure_ratio, row.max_rate_limited_ratio) == (0.001, 0.01)
    assert row not in cat.specs and row.id not in cat.ids
    assert row.id not in {s.id for s in cat.for_phase("phase2")}
    with pytest.raises(CatalogError, match="unknown gate id"):
        select(cat, ["load-p95"])


def test_load_row_overrides_are_validated(tmp_path: Path) -> None:
    path = write(tmp_path, "[gates.load-p95]\nthreshold = 0.01\nmin_group_samples = 80\n")
    row = load(overrides=path).load_gate
    assert (row.threshold, row.min_group_samples) == (0.01, 80)
    for bad, message in (
        ("max_failure_ratio = 1.5", "max_failure_ratio"),
        ("threshold = 2", "slow share in"),
        ('comparator = "<="', "slow share in"),
        ("min_group_samples = 1.5", "must be an integer"),
    ):
        with pytest.raises(CatalogError, match=message):
            load(overrides=write(tmp_path, f"[gates.load-p95]\n{bad}\n"))


def test_the_design_is_stated_per_row_and_overridable(tmp_path: Path) -> None:
    catalog = load_catalog()
    for gate_id in ("error-rate", "latency-p95", "context-pack-p95", "load-p95"):
        row = catalog.get(gate_id)
        assert (row.power, row.effect) == (0.90, 3.0), gate_id
    path = write(tmp_path, "[gates.error-rate]\npower = 0.8\neffect = 2.0\n")
    row = load(overrides=path).get("error-rate")
    assert (row.power, row.effect) == (0.8, 2.0)
    for bad, message in (
        ("power = 1.5", "power must be a probability"),
        ("effect = 0.5", "effect must be > 1"),
    ):
        with pytest.raises(CatalogError, match=message):
            load(overrides=write(tmp_path, f"[gates.error-rate]\n{bad}\n"))
    with pytest.raises(CatalogError, match="no sample-size design"):
        load(overrides=write(tmp_path, "[gates.cpu]\npower = 0.9\neffect = 3.0\n"))
