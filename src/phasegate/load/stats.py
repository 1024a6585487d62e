"""Read what locust measured into per-endpoint-group statistics.

Request names follow one convention in tests/load: `"<group> <operation>"`, for example
`"memory.read list"`; the group is the first word. A request the target refused with 429 is
reported by the locustfiles under the request type `"429"`, so it lands in a row of its own:
such rows are counted as rate-limited, never as requests, successes or failures.

Two sources:

- `--json-file` (preferred): every row carries locust's full response-time histogram, so group
  and overall percentiles are computed exactly from merged histograms.
- `--csv` `_stats.csv` (fallback; it also misses the last second of a run): only fixed
  percentiles per row, from which an approximate histogram is rebuilt by putting each
  percentile slice at its upper value. That can only make latencies look slower, never faster.

Locust stores response times rounded: exact below 100 ms, to 10 ms up to 1 s, to 100 ms up to
10 s, to 1 s above. `Histogram.split` keeps that in mind when asked what share of requests was
slower than a threshold.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RATE_LIMITED_TYPE = "429"
# A request a balancer attributed to one backend (phase 3's `X-Phasegate-Upstream`) is reported
# under the request type `"<METHOD> @<backend>"`, so each backend's answers have rows of their own.
BACKEND_MARK = " @"
OTHER_GROUP = "other"
_GROUP = re.compile(r"^[a-z][a-z0-9_.-]*$")
# Columns of locust's _stats.csv percentile block, as fractions.
_CSV_PERCENTILES = (
    ("50%", 0.50),
    ("66%", 0.66),
    ("75%", 0.75),
    ("80%", 0.80),
    ("90%", 0.90),
    ("95%", 0.95),
    ("98%", 0.98),
    ("99%", 0.99),
    ("99.9%", 0.999),
    ("99.99%", 0.9999),
    ("100%", 1.0),
)


class StatsError(ValueError):
    """A locust output file is missing or not what locust writes."""


def group_of(name: str) -> str:
    first = name.split(" ", 1)[0]
    return first if _GROUP.match(first) else OTHER_GROUP


def _step(value: float) -> float:
    """Width of locust's rounding step for a response time of this size."""
    if value < 100:
        return 1.0
    if value < 1000:
        return 10.0
    if value < 10000:
        return 100.0
    return 1000.0


def bucket_interval(key: int) -> tuple[float, float]:
    """The true response times (ms) that locust stores under `key`."""
    return key - _step(key - 1e-9) / 2, key + _step(key) / 2


@dataclass(frozen=True)
class Split:
    """Requests below, around and above a threshold, given locust's rounding."""

    fast: int  # surely faster than the threshold
    ambiguous: int  # stored in the bucket that straddles the threshold
    slow: int  # surely at or over the threshold

    @property
    def maybe_slow(self) -> int:
        return self.ambiguous + self.slow


@dataclass(frozen=True)
class Histogram:
    """Response-time counts keyed by locust's rounded milliseconds, ascending."""

    buckets: tuple[tuple[int, int], ...] = ()

    @classmethod
    def from_mapping(cls, counts: Mapping[Any, Any]) -> Histogram:
        merged: Counter[int] = Counter()
        for key, value in counts.items():
            merged[round(float(key))] += int(value)
        return cls(tuple(sorted((k, v) for k, v in merged.items() if v > 0)))

    @classmethod
    def merge(cls, histograms: Iterable[Histogram]) -> Histogram:
        merged: Counter[int] = Counter()
        for histogram in histograms:
            for key, value in histogram.buckets:
                merged[key] += value
        return cls(tuple(sorted(merged.items())))

    @property
    def count(self) -> int:
        return sum(v for _, v in self.buckets)

    def percentile(self, fraction: float) -> int | None:
        """Locust's own percentile rule, so numbers match its reports."""
        total = self.count
        if total == 0:
            return None
        allowed_above = int(total * fraction)
        processed = 0
        for key, value in reversed(self.buckets):
            processed += value
            if total - processed <= allowed_above:
                return key
        return self.buckets[0][0]

    def mean(self) -> float | None:
        total = self.count
        if total == 0:
            return None
        return sum(k * v for k, v in self.buckets) / total

    def max(self) -> int | None:
        return self.buckets[-1][0] if self.buckets else None

    def split(self, threshold_ms: float) -> Split:
        fast = ambiguous = slow = 0
        for key, value in self.buckets:
            low, high = bucket_interval(key)
            if high <= threshold_ms:
                fast += value
            elif low >= threshold_ms:
                slow += value
            else:
                ambiguous += value
        return Split(fast, ambiguous, slow)


@dataclass(frozen=True)
class EntryStats:
    """One locust row: a request type and name."""

    method: str
    name: str
    requests: int
    failures: int
    histogram: Histogram
    first_at: float | None = None
    last_at: float | None = None

    @property
    def group(self) -> str:
        return group_of(self.name)

    @property
    def rate_limited(self) -> bool:
        return self.method == RATE_LIMITED_TYPE

    @property
    def backend(self) -> str | None:
        """The backend that answered, where a balancer named it; None otherwise."""
        _, mark, backend = self.method.partition(BACKEND_MARK)
        return backend if mark and backend else None


@dataclass(frozen=True)
class GroupStats:
    name: str
    requests: int  # answered requests, 429s excluded
    failures: int  # of those, the failed ones
    rate_limited: int  # 429s, counted apart
    histogram: Histogram
    window_s: float

    @property
    def rps(self) -> float:
        return self.requests / self.window_s if self.window_s > 0 else 0.0

    def percentile(self, fraction: float) -> int | None:
        return self.histogram.percentile(fraction)

    def summary(self) -> dict[str, Any]:
        mean = self.histogram.mean()
        return {
            "requests": self.requests,
            "failures": self.failures,
            "rate_limited": self.rate_limited,
            "p50_ms": self.percentile(0.50),
            "p95_ms": self.percentile(0.95),
            "p99_ms": self.percentile(0.99),
            "mean_ms": round(mean, 1) if mean is not None else None,
            "max_ms": self.histogram.max(),
            "rps": round(self.rps, 2),
        }


@dataclass(frozen=True)
class LoadStats:
    """Everything one run measured, by endpoint group."""

    entries: tuple[EntryStats, ...]
    source: str  # "json" or "csv"
    path: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    approximate: bool = False
    groups: dict[str, GroupStats] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "groups", self._build_groups())

    @property
    def window_s(self) -> float:
        if self.started_at is None or self.finished_at is None:
            return 0.0
        return max(0.0, self.finished_at - self.started_at)

    def _build_groups(self) -> dict[str, GroupStats]:
        names = sorted({e.group for e in self.entries})
        return {name: self.combine(name, [name]) for name in names}

    def combine(self, label: str, groups: Iterable[str]) -> GroupStats:
        wanted = set(groups)
        picked = [e for e in self.entries if e.group in wanted]
        answered = [e for e in picked if not e.rate_limited]
        return GroupStats(
            name=label,
            requests=sum(e.requests for e in answered),
            failures=sum(e.failures for e in answered),
            rate_limited=sum(e.requests for e in picked if e.rate_limited),
            histogram=Histogram.merge(e.histogram for e in answered),
            window_s=self.window_s,
        )

    def backends(self, groups: Iterable[str]) -> dict[str, GroupStats]:
        """The given groups' answered requests per backend that answered them (phase 3)."""
        wanted = set(groups)
        answered = [
            e for e in self.entries if e.group in wanted and not e.rate_limited and e.backend
        ]
        out: dict[str, GroupStats] = {}
        for name in sorted({e.backend for e in answered if e.backend}):
            mine = [e for e in answered if e.backend == name]
            out[name] = GroupStats(
                name=f"backend {name}",
                requests=sum(e.requests for e in mine),
                failures=sum(e.failures for e in mine),
                rate_limited=0,
                histogram=Histogram.merge(e.histogram for e in mine),
                window_s=self.window_s,
            )
        return out

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "approximate": self.approximate,
            "window": {
                "start": self.started_at,
                "end": self.finished_at,
                "seconds": round(self.window_s, 1),
            },
            "groups": {name: group.summary() for name, group in self.groups.items()},
        }


# -- locust's --json-file --------------------------------------------------------------------


def _entry_from_json(row: Mapping[str, Any]) -> EntryStats:
    try:
        method = str(row["method"])
        name = str(row["name"])
        requests = int(row["num_requests"])
        failures = int(row["num_failures"])
        times = row.get("response_times") or {}
    except (KeyError, TypeError, ValueError) as exc:
        raise StatsError(f"not a locust stats row: {exc!r}") from None
    if not isinstance(times, Mapping):
        raise StatsError("response_times is not an object")
    first = row.get("start_time")
    last = row.get("last_request_timestamp")
    return EntryStats(
        method=method,
        name=name,
        requests=requests,
        failures=failures,
        histogram=Histogram.from_mapping(times),
        first_at=float(first) if isinstance(first, int | float) else None,
        last_at=float(last) if isinstance(last, int | float) else None,
    )


def parse_json(path: Path) -> LoadStats:
    """Read the file locust writes for `--json-file X` (that is, X.json)."""
    try:
        document = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise StatsError(f"cannot read {path}: {exc}") from None
    except ValueError as exc:
        raise StatsError(f"{path} is not JSON: {exc}") from None
    if not isinstance(document, list):
        raise StatsError(f"{path}: expected a list of locust stats rows")
    entries = tuple(_entry_from_json(row) for row in document if isinstance(row, Mapping))
    starts = [e.first_at for e in entries if e.first_at is not None]
    ends = [e.last_at for e in entries if e.last_at is not None]
    return LoadStats(
        entries=entries,
        source="json",
        path=str(path),
        started_at=min(starts) if starts else None,
        finished_at=max(ends) if ends else None,
    )


# -- locust's --csv _stats.csv ---------------------------------------------------------------


def _csv_histogram(row: Mapping[str, str], count: int) -> Histogram:
    """Each percentile slice of the requests placed at that percentile's (upper) value."""
    counts: Counter[int] = Counter()
    assigned = 0
    for column, fraction in _CSV_PERCENTILES:
        raw = (row.get(column) or "").strip()
        if not raw or raw == "N/A":
            continue
        upto = min(count, round(count * fraction))
        if upto > assigned:
            counts[round(float(raw))] += upto - assigned
            assigned = upto
    if assigned < count:
        top = (row.get("Max Response Time") or row.get("100%") or "0").strip() or "0"
        counts[round(float(top))] += count - assigned
    return Histogram(tuple(sorted(counts.items())))


def parse_csv(path: Path, duration_s: float | None = None) -> LoadStats:
    """Read `<prefix>_stats.csv`; the Aggregated row is skipped (groups are rebuilt)."""
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise StatsError(f"cannot read {path}: {exc}") from None
    entries: list[EntryStats] = []
    for row in rows:
        name = (row.get("Name") or "").strip()
        method = (row.get("Type") or "").strip()
        if not name or (name == "Aggregated" and not method):
            continue
        try:
            requests = int(row["Request Count"])
            failures = int(row["Failure Count"])
        except (KeyError, TypeError, ValueError):
            raise StatsError(f"{path}: not a locust _stats.csv (row {row!r})") from None
        entries.append(EntryStats(method, name, requests, failures, _csv_histogram(row, requests)))
    return LoadStats(
        entries=tuple(entries),
        source="csv",
        path=str(path),
        started_at=0.0 if duration_s else None,
        finished_at=duration_s if duration_s else None,
        approximate=True,
    )


def read_run_stats(json_path: Path, csv_path: Path, duration_s: float | None = None) -> LoadStats:
    """The JSON when locust wrote it, else the CSV; StatsError when neither is there."""
    if json_path.exists():
        return parse_json(json_path)
    if csv_path.exists():
        return parse_csv(csv_path, duration_s)
    raise StatsError(f"locust wrote neither {json_path.name} nor {csv_path.name}")
