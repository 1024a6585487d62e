"""Gate specifications: the reviewed catalog (catalog.toml) and a user's override file.

A gate is data: what to measure (PromQL), how to judge it (kind, comparator, threshold), over
which window, with how many samples at least, what missing data means, and whether a failure
blocks the phase. The catalog's rows are the rollout plan's success criteria, phase gate criteria
and monitoring checklist; a user changes thresholds or windows by id in a TOML override file,
without editing code.
"""

from __future__ import annotations

import enum
import math
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from phasegate.durations import FORMS, parse_duration
from phasegate.phases import PHASE_TABLE
from phasegate.severity import load_catalog as severity_catalog

DEFAULT_SELECTOR = 'job="skillmeat"'
CATALOG_RESOURCE = "catalog.toml"
GATE_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")

# The plan's minimum monitoring duration per phase: the default window of a gate whose catalog
# window is "phase" (rollout-plan.md, each phase's Duration; kept in phases.PHASE_TABLE).
PHASE_WINDOWS_S: Mapping[str, float] = {spec.marker: spec.window_s for spec in PHASE_TABLE.values()}
PHASES = tuple(PHASE_WINDOWS_S)


class GateKind(enum.StrEnum):
    RATIO = "ratio"  # events / total from two counters, judged by its binomial bound
    SLOW_SHARE = "slow_share"  # share of a histogram above its `le` bucket, binomial bound
    GAUGE = "gauge"  # every sample (or every `sustain` stretch) on the right side of threshold
    SLOPE = "slope"  # least-squares growth rate with its t bound
    ALERTS = "alerts"  # firing alerts of given severities (Alertmanager + Prometheus ALERTS)
    BASELINE_RATIO = "baseline_ratio"  # ratio in the window vs a baseline window
    BASELINE_SLOW_SHARE = "baseline_slow_share"  # slow share in the window vs a baseline window
    LOAD = "load"  # a locust run's slow and failed shares (phasegate.load.gate), not Prometheus

    @property
    def counts(self) -> bool:
        return self in _COUNT_KINDS

    @property
    def histogram(self) -> bool:
        return self in (GateKind.SLOW_SHARE, GateKind.BASELINE_SLOW_SHARE)

    @property
    def baseline(self) -> bool:
        return self in (GateKind.BASELINE_RATIO, GateKind.BASELINE_SLOW_SHARE)

    @property
    def series(self) -> bool:
        return self in (GateKind.GAUGE, GateKind.SLOPE)


_COUNT_KINDS = frozenset(
    {GateKind.RATIO, GateKind.SLOW_SHARE, GateKind.BASELINE_RATIO, GateKind.BASELINE_SLOW_SHARE}
)


class Severity(enum.StrEnum):
    BLOCKING = "blocking"
    WARNING = "warning"


class NoData(enum.StrEnum):
    INCONCLUSIVE = "inconclusive"
    FAIL = "fail"


COMPARATORS: Mapping[str, Any] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_UPPER_LIMITS = ("<", "<=")

PER_SECONDS: Mapping[str, float] = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


class CatalogError(ValueError):
    """A catalog or override file that cannot be used; the message names file, gate and key."""


# -- The spec -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GateSpec:
    """One gate. Queries may contain `$selector`, replaced by the target's label matchers."""

    id: str
    title: str
    phases: tuple[str, ...]
    kind: GateKind
    threshold: float
    comparator: str = "<"
    unit: str = ""
    window_s: float | None = None  # None: the phase's monitoring duration (PHASE_WINDOWS_S)
    sub_window_s: float | None = None  # ratio kinds: every sub-window must not FAIL
    min_samples: int = 1
    min_span_s: float = 0.0  # series kinds: the samples must cover at least this long
    sustain_s: float = 0.0  # gauge: a breach counts only when it lasts this long
    no_data: NoData = NoData.INCONCLUSIVE
    severity: Severity = Severity.BLOCKING
    plan: str = ""
    description: str = ""
    query: str = ""  # gauge, slope: an instant-vector expression, one series expected
    events: str = ""  # ratio: counter series selector of the events (errors)
    total: str = ""  # ratio: counter series selector of all trials (requests)
    histogram: str = ""  # slow share: histogram base name (without _bucket / _count)
    matchers: str = ""  # slow share: label matchers for the histogram series
    le: float | None = None  # slow share: the bucket bound that the threshold is about
    per: str = ""  # slope: the unit of time of the threshold (hour, day)
    floor: float | None = None  # baseline: a window rate provably below this always passes
    severities: tuple[str, ...] = ()  # alerts: severity label values that count
    min_group_samples: int | None = None  # load: fewer requests in an endpoint group cannot pass
    max_failure_ratio: float | None = None  # load: the largest allowed share of failed requests
    max_rate_limited_ratio: float | None = None  # load: more refused with 429 decides nothing
    # ratio, slow share, load: the fixed-sample design (gates.design) is sized to FAIL a true
    # share of `effect` x threshold with this power; None: no design (min_samples only)
    power: float | None = None
    effect: float | None = None

    @property
    def blocking(self) -> bool:
        return self.severity is Severity.BLOCKING

    def window_for(self, phase: str | None) -> float:
        """The evaluation window in seconds: the row's own, else the phase's duration."""
        if self.window_s is not None:
            return self.window_s
        if phase is not None and phase in PHASE_WINDOWS_S:
            return PHASE_WINDOWS_S[phase]
        return min(PHASE_WINDOWS_S[p] for p in self.phases) if self.phases else 3600.0

    def resolved(self, selector: str = DEFAULT_SELECTOR) -> dict[str, str]:
        """The spec's queries with `$selector` filled in, by role."""
        out: dict[str, str] = {}
        if self.kind.histogram:
            matchers = self.matchers or "$selector"
            out["buckets"] = resolve(f"{self.histogram}_bucket{{{matchers}}}", selector)
            out["count"] = resolve(f"{self.histogram}_count{{{matchers}}}", selector)
        elif self.kind.counts:
            out["events"] = resolve(self.events, selector)
            out["total"] = resolve(self.total, selector)
        elif self.kind.series:
            out["query"] = resolve(self.query, selector)
        return out

    def validate(self, source: str = "catalog") -> GateSpec:
        where = f"{source}: gate {self.id!r}"

        def bad(message: str) -> CatalogError:
            return CatalogError(f"{where}: {message}")

        if not GATE_ID.match(self.id):
            raise bad("id must be lower-case letters, digits, '.', '_' or '-'")
        if not self.title:
            raise bad("title is empty")
        if not self.phases or any(p not in PHASES for p in self.phases):
            raise bad(f"phases must be a non-empty subset of {list(PHASES)}, got {self.phases}")
        if self.comparator not in COMPARATORS:
            raise bad(f"comparator must be one of {list(COMPARATORS)}, got {self.comparator!r}")
        if not math.isfinite(self.threshold):
            raise bad(f"threshold must be a finite number, got {self.threshold!r}")
        for name in ("window_s", "sub_window_s"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise bad(f"{name.removesuffix('_s')} must be a positive duration")
        if self.min_samples < 1:
            raise bad(f"min_samples must be >= 1, got {self.min_samples}")
        if self.min_span_s < 0 or self.sustain_s < 0:
            raise bad("min_span and sustain must be >= 0")
        kind = self.kind
        if kind in (GateKind.RATIO, GateKind.SLOW_SHARE) and not 0 < self.threshold < 1:
            raise bad(f"a {kind.value} threshold is a proportion in (0, 1), got {self.threshold}")
        if kind.counts and self.comparator not in _UPPER_LIMITS:
            raise bad(f"a {kind.value} gate judges an upper limit: comparator '<' or '<='")
        if kind.histogram:
            if not self.histogram or self.le is None:
                raise bad(f"a {kind.value} gate needs `histogram` and `le`")
            if not (math.isfinite(self.le) and self.le > 0):
                raise bad(f"le must be a positive number, got {self.le}")
        elif kind.counts and not (self.events and self.total):
            raise bad(f"a {kind.value} gate needs `events` and `total` series selectors")
        if kind.series and not self.query:
            raise bad(f"a {kind.value} gate needs `query`")
        if kind is GateKind.SLOPE and self.per not in PER_SECONDS:
            raise bad(f"a slope gate needs per = one of {list(PER_SECONDS)}, got {self.per!r}")
        if kind.baseline:
            if self.threshold <= 0:
                raise bad("a baseline threshold is the largest allowed rate ratio, > 0")
            if self.floor is not None and not 0 < self.floor < 1:
                raise bad(f"floor must be a proportion in (0, 1), got {self.floor}")
        if kind is GateKind.ALERTS and not self.severities:
            raise bad("an alerts gate needs `severities`")
        if kind is GateKind.LOAD:
            self._validate_load(bad)
        if (self.power is None) != (self.effect is None):
            raise bad("`power` and `effect` go together (the design's stated power)")
        if self.power is not None and self.effect is not None:
            if not (kind in (GateKind.RATIO, GateKind.SLOW_SHARE) or kind is GateKind.LOAD):
                raise bad(f"a {kind.value} gate has no sample-size design: no power / effect")
            if not 0 < self.power < 1:
                raise bad(f"power must be a probability in (0, 1), got {self.power}")
            if not (self.effect > 1 and self.effect * self.threshold < 1):
                raise bad(
                    f"effect must be > 1 with effect x threshold < 1, got {self.effect} "
                    f"(threshold {self.threshold})"
                )
        return self

    def _validate_load(self, bad: Callable[[str], CatalogError]) -> None:
        if self.comparator != "<" or not 0 < self.threshold < 1:
            raise bad("a load gate's threshold is the allowed slow share in (0, 1), with '<'")
        if self.le is None or not (math.isfinite(self.le) and self.le > 0):
            raise bad(f"a load gate needs `le`, the latency limit in seconds, got {self.le}")
        if self.min_group_samples is None or self.min_group_samples < 0:
            raise bad("a load gate needs `min_group_samples` >= 0")
        for name in ("max_failure_ratio", "max_rate_limited_ratio"):
            value = getattr(self, name)
            if value is None or not 0 <= value < 1:
                raise bad(f"a load gate needs `{name}` in [0, 1), got {value}")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if isinstance(value, enum.Enum):
                value = value.value
            elif isinstance(value, tuple):
                value = list(value)
            data[item.name] = value
        return data


def resolve(template: str, selector: str) -> str:
    """Fill `$selector` into a PromQL template; an empty selector leaves no stray comma."""
    text = template.replace("$selector", selector.strip())
    text = re.sub(r"\{\s*,", "{", text)
    text = re.sub(r",\s*\}", "}", text)
    text = re.sub(r",\s*,", ",", text)
    return text.replace("{}", "")


# -- Loading --------------------------------------------------------------------------------------

# TOML key -> (GateSpec field, converter). Durations are text in TOML and seconds in the spec.
_OVERRIDABLE = frozenset(
    {
        "title",
        "threshold",
        "comparator",
        "window",
        "sub_window",
        "min_samples",
        "min_span",
        "sustain",
        "no_data",
        "severity",
        "query",
        "events",
        "total",
        "histogram",
        "matchers",
        "le",
        "per",
        "floor",
        "severities",
        "phases",
        "min_group_samples",
        "max_failure_ratio",
        "max_rate_limited_ratio",
        "power",
        "effect",
    }
)
_CATALOG_ONLY = frozenset({"id", "kind", "unit", "plan", "description"})


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{key} must be finite, got {value!r}")
    return number


def _text(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string, got {value!r}")
    return value


def _texts(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{key} must be a list of strings, got {value!r}")
    return tuple(value)


_E = TypeVar("_E", bound=enum.StrEnum)


def _enum(cls: type[_E], value: Any, key: str) -> _E:
    allowed = [member.value for member in cls]
    if value not in allowed:
        raise ValueError(f"{key} must be one of {allowed}, got {value!r}")
    return cls(value)


def _duration(value: Any, key: str, *, allow_phase: bool = False) -> float | None:
    if allow_phase and value == "phase":
        return None
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"{key} must be a duration such as {FORMS} (as text), got {value!r}")


def _convert(key: str, value: Any) -> tuple[str, Any]:
    """One TOML key/value -> (GateSpec field name, typed value)."""
    if key in ("title", "comparator", "query", "events", "total", "histogram", "matchers"):
        return key, _text(value, key)
    if key in ("unit", "plan", "description", "id", "per"):
        return key, _text(value, key)
    if key == "threshold":
        return key, _number(value, key)
    if key in ("le", "floor", "max_failure_ratio", "max_rate_limited_ratio", "power", "effect"):
        return key, _number(value, key)
    if key in ("min_samples", "min_group_samples"):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key} must be an integer, got {value!r}")
        return key, value
    if key == "window":
        return "window_s", _duration(value, key, allow_phase=True)
    if key == "sub_window":
        return "sub_window_s", None if value == "none" else _duration(value, key)
    if key in ("min_span", "sustain"):
        return f"{key}_s", 0.0 if value in (0, "0") else _duration(value, key)
    if key == "no_data":
        return key, _enum(NoData, value, key)
    if key == "severity":
        return key, _enum(Severity, value, key)
    if key == "kind":
        return key, _enum(GateKind, value, key)
    if key in ("severities", "phases"):
        return key, _texts(value, key)
    raise ValueError(f"unknown key {key!r}")


def check_id_of(gate_id: str) -> str:
    """The check that judges a catalog row: `gate.<id>`, and the load row's own load check."""
    return "load.p95-under-load" if gate_id == "load-p95" else f"gate.{gate_id}"


def _severity_from_catalog(gate_id: str, phases: Iterable[str]) -> Severity:
    """A row's severity is its check's in the severity catalog (blocking in any of its phases)."""
    resolved = severity_catalog().resolve(check_id_of(gate_id), None, phases=tuple(phases))
    return Severity.BLOCKING if resolved.blocking else Severity.WARNING


def _spec_from_row(row: Mapping[str, Any], source: str) -> GateSpec:
    gate_id = row.get("id", "?")
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key not in _OVERRIDABLE | _CATALOG_ONLY:
            raise CatalogError(f"{source}: gate {gate_id!r}: unknown key {key!r}")
        try:
            name, converted = _convert(key, value)
        except ValueError as exc:
            raise CatalogError(f"{source}: gate {gate_id!r}: {exc}") from None
        values[name] = converted
    for required in ("id", "title", "phases", "kind", "threshold"):
        if required not in row:
            raise CatalogError(f"{source}: gate {gate_id!r}: missing key {required!r}")
    if "severity" not in values:
        values["severity"] = _severity_from_catalog(str(gate_id), values["phases"])
    return GateSpec(**values).validate(source)


@dataclass(frozen=True)
class Catalog:
    """Every row of a catalog: the metric gates (`specs`) and the load gate (`load_gate`)."""

    rows: tuple[GateSpec, ...]
    source: str = "catalog"

    @property
    def specs(self) -> tuple[GateSpec, ...]:
        """The metric gates: every row judged from Prometheus or Alertmanager."""
        return tuple(row for row in self.rows if row.kind is not GateKind.LOAD)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(spec.id for spec in self.specs)

    @property
    def load_gate(self) -> GateSpec:
        """The row the load gate judges a locust run by (phasegate.load.gate)."""
        rows = [row for row in self.rows if row.kind is GateKind.LOAD]
        if len(rows) != 1:
            raise CatalogError(f"{self.source}: expected one row of kind 'load', found {len(rows)}")
        return rows[0]

    def get(self, gate_id: str) -> GateSpec:
        for spec in self.rows:
            if spec.id == gate_id:
                return spec
        raise KeyError(gate_id)

    def for_phase(self, phase: str) -> tuple[GateSpec, ...]:
        return tuple(spec for spec in self.specs if phase in spec.phases)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]], source: str) -> Catalog:
        """Apply {gate id: {key: value}}; unknown ids or keys and bad values raise CatalogError."""
        known = {row.id for row in self.rows}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise CatalogError(
                f"{source}: unknown gate id(s) {unknown}; known ids: {sorted(known)}"
            )
        specs = []
        for spec in self.rows:
            changes = overrides.get(spec.id)
            if not changes:
                specs.append(spec)
                continue
            if not isinstance(changes, Mapping):
                raise CatalogError(f"{source}: gate {spec.id!r}: expected a table of settings")
            updates: dict[str, Any] = {}
            for key, value in changes.items():
                if key not in _OVERRIDABLE:
                    allowed = ", ".join(sorted(_OVERRIDABLE))
                    raise CatalogError(
                        f"{source}: gate {spec.id!r}: {key!r} cannot be overridden "
                        f"(allowed: {allowed})"
                    )
                try:
                    name, converted = _convert(key, value)
                except ValueError as exc:
                    raise CatalogError(f"{source}: gate {spec.id!r}: {exc}") from None
                updates[name] = converted
            specs.append(replace(spec, **updates).validate(source))
        return Catalog(tuple(specs), f"{self.source} + {source}")


def _parse_catalog(data: Mapping[str, Any], source: str) -> Catalog:
    extra = set(data) - {"version", "gate"}
    if extra:
        raise CatalogError(f"{source}: unknown top-level key(s) {sorted(extra)}")
    if data.get("version") != 1:
        raise CatalogError(f"{source}: expected version = 1")
    rows = data.get("gate")
    if not isinstance(rows, list) or not rows:
        raise CatalogError(f"{source}: no [[gate]] rows")
    specs = tuple(_spec_from_row(row, source) for row in rows)
    ids = [spec.id for spec in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise CatalogError(f"{source}: duplicate gate id(s) {duplicates}")
    return Catalog(specs, source)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from None


def load_catalog(path: Path | None = None) -> Catalog:
    """The packaged catalog (or another catalog file)."""
    if path is not None:
        return _parse_catalog(_read_toml(path), str(path))
    text = resources.files("phasegate.gates").joinpath(CATALOG_RESOURCE).read_text("utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - the packaged file is tested
        raise CatalogError(f"packaged {CATALOG_RESOURCE}: not valid TOML: {exc}") from None
    return _parse_catalog(data, f"phasegate/gates/{CATALOG_RESOURCE}")


def read_overrides(path: Path) -> dict[str, Mapping[str, Any]]:
    """An override file: `[gates.<id>]` tables of the keys to change."""
    data = _read_toml(path)
    extra = set(data) - {"gates"}
    if extra:
        raise CatalogError(
            f"{path}: unknown top-level key(s) {sorted(extra)}; put settings under [gates.<id>]"
        )
    gates = data.get("gates", {})
    if not isinstance(gates, dict):
        raise CatalogError(f"{path}: `gates` must be a table of [gates.<id>] tables")
    return gates


def load(overrides: Path | None = None, catalog: Path | None = None) -> Catalog:
    """The catalog with a user's override file applied."""
    base = load_catalog(catalog)
    if overrides is None:
        return base
    return base.with_overrides(read_overrides(overrides), str(overrides))


def select(catalog: Catalog, ids: Iterable[str]) -> tuple[GateSpec, ...]:
    wanted = list(ids)
    unknown = sorted(set(wanted) - set(catalog.ids))
    if unknown:
        raise CatalogError(f"unknown gate id(s) {unknown}; known ids: {sorted(catalog.ids)}")
    return tuple(catalog.get(i) for i in wanted)
