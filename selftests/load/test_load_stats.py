"""The statistics parser on saved locust output (real locust 2.47 files, see data/)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from phasegate.load.stats import (
    Histogram,
    Split,
    StatsError,
    bucket_interval,
    group_of,
    parse_csv,
    parse_json,
    read_run_stats,
)

DATA = Path(__file__).parent / "data"
# 10 users for 15 s with --tags phase2 against a real SkillMeat 0.74.0 (flag ON).
REAL_JSON = DATA / "skillmeat-phase2.json"
REAL_CSV = DATA / "skillmeat-phase2_stats.csv"
# 6 users for 6 s against the stand-in answering 15% with 429 and 10% with 500.
FAULTY_JSON = DATA / "faulty.json"
FAULTY_CSV = DATA / "faulty_stats.csv"


def csv_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with path.open(newline="") as handle:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(handle)}


def test_json_percentiles_are_locusts_own():
    """Per row, p50/p95/p99 from the JSON histogram equal the columns locust wrote itself."""
    stats = parse_json(REAL_JSON)
    rows = csv_rows(REAL_CSV)
    compared = 0
    for entry in stats.entries:
        row = rows.get((entry.method, entry.name))
        if row is None or int(row["Request Count"]) != entry.requests:
            continue  # the CSV misses the last second of a run; the JSON does not
        for column, fraction in (("50%", 0.5), ("95%", 0.95), ("99%", 0.99)):
            assert entry.histogram.percentile(fraction) == int(row[column]), (entry.name, column)
        compared += 1
    assert compared >= 10


def test_json_is_complete_where_the_csv_misses_the_last_second():
    stats = parse_json(REAL_JSON)
    rows = csv_rows(REAL_CSV)
    json_total = sum(e.requests for e in stats.entries)
    assert json_total > int(rows[("", "Aggregated")]["Request Count"])
    # every project the users created was deleted again
    by_name = {e.name: e.requests for e in stats.entries}
    assert by_name["setup create-project"] == by_name["cleanup delete-project"] == 13


def test_groups_come_from_the_first_word_of_request_names():
    stats = parse_json(REAL_JSON)
    assert set(stats.groups) == {
        "setup",
        "cleanup",
        "memory.read",
        "memory.write",
        "modules",
        "packs",
    }
    read = stats.groups["memory.read"]
    assert read.requests == sum(e.requests for e in stats.entries if e.group == "memory.read")
    assert read.histogram.count == read.requests
    assert stats.window_s == pytest.approx(19.0, abs=0.1)
    assert read.rps == pytest.approx(read.requests / stats.window_s)
    assert group_of("memory.read list") == "memory.read"
    assert group_of("/api/v1/memory-items?project_id=x") == "other"
    assert group_of("") == "other"


def test_429_rows_are_counted_apart_never_as_requests_or_failures():
    stats = parse_json(FAULTY_JSON)
    raw = json.loads(FAULTY_JSON.read_text())
    limited = sum(r["num_requests"] for r in raw if r["method"] == "429")
    answered = sum(r["num_requests"] for r in raw if r["method"] != "429")
    failed = sum(r["num_failures"] for r in raw if r["method"] != "429")
    assert limited > 0
    everything = stats.combine("all", stats.groups)
    assert everything.rate_limited == limited
    assert everything.requests == answered
    assert everything.failures == failed
    assert everything.histogram.count == answered
    setup = stats.groups["setup"]
    assert setup.rate_limited == sum(
        r["num_requests"] for r in raw if r["method"] == "429" and r["name"].startswith("setup ")
    )


def test_csv_fallback_reads_rows_and_is_never_faster_than_the_truth():
    from_csv = parse_csv(REAL_CSV, duration_s=19.0)
    from_json = parse_json(REAL_JSON)
    assert from_csv.approximate and from_csv.source == "csv"
    assert "Aggregated" not in {e.name for e in from_csv.entries}
    truth = {(e.method, e.name): e for e in from_json.entries}
    for entry in from_csv.entries:
        exact = truth[(entry.method, entry.name)]
        if exact.requests != entry.requests:
            continue
        for fraction in (0.5, 0.95, 0.99):
            approx = entry.histogram.percentile(fraction)
            real = exact.histogram.percentile(fraction)
            assert approx is not None and real is not None
            assert approx >= real, (entry.name, fraction)
    faulty = parse_csv(FAULTY_CSV)
    assert faulty.combine("all", faulty.groups).rate_limited > 0


def test_read_run_stats_prefers_json_and_falls_back_to_csv(tmp_path):
    assert read_run_stats(REAL_JSON, REAL_CSV).source == "json"
    assert read_run_stats(tmp_path / "none.json", REAL_CSV).source == "csv"
    with pytest.raises(StatsError, match="neither"):
        read_run_stats(tmp_path / "none.json", tmp_path / "none.csv")


def test_bad_files_are_stats_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(StatsError, match="list"):
        parse_json(bad)
    bad.write_text("not json")
    with pytest.raises(StatsError, match="not JSON"):
        parse_json(bad)
    bad.write_text('[{"name": "x"}]')
    with pytest.raises(StatsError, match="row"):
        parse_json(bad)
    with pytest.raises(StatsError, match="cannot read"):
        parse_json(tmp_path / "missing.json")


def test_locust_rounding_intervals():
    """Exact below 100 ms, 10 ms steps to 1 s, 100 ms steps to 10 s."""
    assert bucket_interval(42) == (41.5, 42.5)
    assert bucket_interval(100) == (99.5, 105.0)
    assert bucket_interval(500) == (495.0, 505.0)
    assert bucket_interval(1000) == (995.0, 1050.0)
    assert bucket_interval(2500) == (2450.0, 2550.0)


def test_split_keeps_the_straddling_bucket_apart():
    histogram = Histogram.from_mapping({"490": 3, "500": 2, "510": 1, "80": 4})
    assert histogram.split(500) == Split(fast=7, ambiguous=2, slow=1)
    assert histogram.split(500).maybe_slow == 3
    # below 100 ms values are exact: 99 is surely under 100, 100 straddles it
    assert Histogram.from_mapping({"99": 1, "100": 1}).split(100) == Split(1, 1, 0)


def test_percentile_rule_and_merge():
    histogram = Histogram.from_mapping({"10": 90, "20": 5, "600": 5})
    assert histogram.count == 100
    # locust's rule: the smallest bucket with at most (1 - fraction) of requests above it,
    # boundary included, so exactly 5% at 600 ms makes p95 600
    assert histogram.percentile(0.95) == 600
    assert histogram.percentile(0.94) == 20
    assert histogram.percentile(0.5) == 10
    merged = Histogram.merge([histogram, Histogram.from_mapping({"600": 100})])
    assert merged.count == 200
    assert merged.percentile(0.5) == 600
    assert Histogram().percentile(0.95) is None
