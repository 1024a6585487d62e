"""The metric source: Prometheus queries turned into Observations for `evaluate`.

- Every query carries explicit times (prometheus-api-client computes its defaults once, at import).
- Counters are counted exactly: per series, the difference of the raw counter between the window's
  (sub-)boundaries, from one range query. `increase()` is not used because it extrapolates, and
  because it drops the first sample of a series born inside the window: a first 5xx creates the
  series `status="500"` with the value 1, which `increase()` would count as 0 errors.
- Freshness is checked for the target selector: `up` at the end of the window, the age of the last
  scrape, and the number of scrapes in the window against the scrape interval.
- A few consecutive errors are retried; after that, and for an unreachable Prometheus, the gate's
  Observation says why and evaluates INCONCLUSIVE. `observe` never raises for a data problem.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from phasegate.durations import format_duration, parse_duration
from phasegate.gates.observation import Alert, AlertEvidence, Counts, Freshness, Observation, Window
from phasegate.gates.spec import DEFAULT_SELECTOR, GateKind, GateSpec, resolve

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series
_STATUS = re.compile(r"HTTP Status Code (\d+)")


class QueryError(RuntimeError):
    """Prometheus could not answer (after retries); `bad_query` when the query itself is wrong."""

    def __init__(self, message: str, *, bad_query: bool = False) -> None:
        super().__init__(message)
        self.bad_query = bad_query


class ConfigurationError(RuntimeError):
    """The data cannot answer the gate's question as asked (e.g. no bucket at the threshold)."""


def _matrix_points(series: Mapping[str, Any]) -> list[tuple[float, float]]:
    return [(float(t), _float(v)) for t, v in series.get("values", [])]


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _with_matcher(selector: str, matcher: str) -> str:
    """Add one label matcher to a series selector `name{...}`."""
    if "{" in selector:
        head, _, rest = selector.partition("{")
        return resolve(f"{head}{{{rest.rstrip().removesuffix('}')},{matcher}}}", "")
    return f"{selector}{{{matcher}}}"


@dataclass(frozen=True)
class _Boundaries:
    start: float
    step: float
    count: int  # number of sub-windows

    def index(self, ts: float) -> int | None:
        i = round((ts - self.start) / self.step)
        if 0 <= i <= self.count and abs(self.start + i * self.step - ts) < self.step / 2:
            return i
        return None

    def at(self, i: int) -> float:
        return self.start + i * self.step


class PrometheusSource:
    """Queries one Prometheus for the gates of one target selector."""

    def __init__(
        self,
        url: str,
        *,
        selector: str = DEFAULT_SELECTOR,
        disable_ssl: bool = False,
        timeout_s: float = 15.0,
        attempts: int = 3,
        retry_delay_s: float = 0.5,
        scrape_interval_s: float | None = None,
        min_coverage: float = 0.8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url.rstrip("/")
        self.selector = selector
        self.disable_ssl = disable_ssl
        self.timeout_s = timeout_s
        self.attempts = max(1, attempts)
        self.retry_delay_s = retry_delay_s
        self.scrape_interval_s = scrape_interval_s
        self.min_coverage = min_coverage
        self._sleep = sleep
        # No hidden retries inside the client: this class retries, and says so in its errors.
        self.client = PrometheusConnect(
            url=self.url,
            disable_ssl=disable_ssl,
            retry=Retry(total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False),
            timeout=max(1, math.ceil(timeout_s)),
        )
        self.unreachable: str | None = None
        self._freshness: dict[tuple[float, float], Freshness | QueryError] = {}

    # -- transport --

    def _retrying(self, what: str, call: Callable[[], Any]) -> Any:
        if self.unreachable is not None:
            # Retried to exhaustion once already in this run: do not wait again for every gate.
            raise QueryError(f"{self.unreachable} (not retried again for {what})")
        last = ""
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except PrometheusApiClientException as exc:
                status = _STATUS.search(str(exc))
                code = int(status.group(1)) if status else 0
                if code in (400, 422):
                    raise QueryError(
                        f"Prometheus rejected {what}: {_short(str(exc))}", bad_query=True
                    ) from None
                last = f"HTTP {code or '?'}: {_short(str(exc))}"
            except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:
                # requests' ConnectionError and Timeout are OSErrors; bad JSON is a ValueError.
                last = f"{type(exc).__name__}: {_short(str(exc))}"
            if attempt < self.attempts:
                self._sleep(self.retry_delay_s * attempt)
        self.unreachable = (
            f"Prometheus at {self.url} did not answer {what} ({self.attempts} attempts): {last}"
        )
        raise QueryError(self.unreachable)

    def query(self, promql: str, at: float) -> list[dict[str, Any]]:
        result = self._retrying(
            f"query {promql!r}",
            lambda: self.client.custom_query(promql, params={"time": f"{at:.3f}"}),
        )
        return list(result)

    def query_range(self, promql: str, start: float, end: float, step: float) -> list[Any]:
        result = self._retrying(
            f"range query {promql!r}",
            lambda: self.client.custom_query_range(
                promql,
                start_time=datetime.fromtimestamp(start, UTC),
                end_time=datetime.fromtimestamp(end, UTC),
                step=f"{step:.3f}",
            ),
        )
        return list(result)

    def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        def call() -> Any:
            with httpx.Client(verify=not self.disable_ssl, timeout=self.timeout_s) as http:
                response = http.get(f"{self.url}{path}", params=params)
            if response.status_code != 200:
                raise PrometheusApiClientException(
                    f"HTTP Status Code {response.status_code} ({response.text[:300]!r})"
                )
            return response.json()["data"]

        return self._retrying(f"GET {path}", call)

    # -- freshness --

    def scrape_interval(self) -> float:
        """The targets' real scrape interval (the largest for the selector), read once.

        From /api/v1/targets (`scrapeInterval`), else from the job's or the global
        `scrape_interval` in /api/v1/status/config. Never a guessed default: freshness judged
        against a wrong interval passes stale data, so an unknown interval raises QueryError and
        the gates reading it are INCONCLUSIVE.
        """
        if self.scrape_interval_s is not None:
            return self.scrape_interval_s
        wanted = dict(_selector_equalities(self.selector))
        targets = self._get_json("/api/v1/targets", {"state": "active"})
        intervals: list[float] = []
        jobs: set[str] = set()
        for target in targets.get("activeTargets", []) if isinstance(targets, dict) else []:
            labels = target.get("labels", {})
            if all(labels.get(k) == v for k, v in wanted.items()):
                jobs.add(str(target.get("scrapePool") or labels.get("job", "")))
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    intervals.append(parse_duration(target["scrapeInterval"]))
        if not intervals:
            status, problem = self._status_config()
            configured = configured_interval(status, jobs)
            if configured is None:
                raise QueryError(
                    f"the scrape interval of {{{self.selector}}} cannot be read from Prometheus "
                    f"at {self.url} (no matching active target with scrapeInterval; "
                    f"configuration: {problem or 'no scrape_interval in it'}), so freshness "
                    "cannot be judged"
                )
            intervals.append(configured)
        self.scrape_interval_s = max(intervals)
        return self.scrape_interval_s

    def _status_config(self) -> tuple[Any, str]:
        """(/api/v1/status/config data, problem). Asked once, outside the retry memo: a
        Prometheus that hides its configuration is not an unreachable one."""
        try:
            with httpx.Client(verify=not self.disable_ssl, timeout=self.timeout_s) as http:
                response = http.get(f"{self.url}/api/v1/status/config")
            if response.status_code != 200:
                return None, f"HTTP {response.status_code}"
            return response.json().get("data"), ""
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            return None, f"{type(exc).__name__}: {_short(str(exc))}"

    def freshness(self, window: Window) -> Freshness:
        key = (window.start, window.end)
        cached = self._freshness.get(key)
        if cached is None:
            try:
                cached = self._measure_freshness(window)
            except QueryError as exc:
                cached = exc
            self._freshness[key] = cached
        if isinstance(cached, QueryError):
            raise cached
        return cached

    def _measure_freshness(self, window: Window) -> Freshness:
        sel = self.selector
        end = window.end
        dur = f"{round(window.duration_s)}s"
        up = self.query(resolve("up{$selector}", sel), end)
        stamps = self.query(resolve("timestamp(up{$selector})", sel), end)
        counts = self.query(resolve(f"count_over_time(up{{$selector}}[{dur}])", sel), end)
        interval = self.scrape_interval()
        ages = [end - _float(s["value"][1]) for s in stamps]
        return Freshness(
            selector=sel,
            targets=len(up),
            targets_up=sum(1 for s in up if _float(s["value"][1]) == 1.0),
            scrapes=min((int(_float(s["value"][1])) for s in counts), default=0),
            expected_scrapes=window.duration_s / interval if interval > 0 else 0.0,
            last_scrape_age_s=max(ages) if ages else None,
            scrape_interval_s=interval,
            min_coverage=self.min_coverage,
        )

    # -- observations --

    def observe(
        self, spec: GateSpec, window: Window, baseline: Window | None = None
    ) -> Observation:
        """What Prometheus shows for this gate in this window. Never raises for data problems."""
        window = _whole_seconds(window)
        if spec.kind is GateKind.ALERTS:
            return self.observe_alerts(window)
        resolved = spec.resolved(self.selector)
        query = " ; ".join(f"{role}: {text}" for role, text in resolved.items())
        try:
            freshness = self.freshness(window)
        except QueryError as exc:
            return Observation(query=query, window=window, error=str(exc))
        try:
            if spec.kind.counts:
                return self._observe_counts(spec, window, baseline, freshness)
            return self._observe_series(spec, window, resolved["query"], freshness)
        except ConfigurationError as exc:
            return Observation(query=query, window=window, config_error=str(exc))
        except QueryError as exc:
            if exc.bad_query:
                return Observation(query=query, window=window, config_error=str(exc))
            return Observation(query=query, window=window, error=str(exc), freshness=freshness)

    def _observe_counts(
        self, spec: GateSpec, window: Window, baseline: Window | None, freshness: Freshness
    ) -> Observation:
        events_sel, total_sel, note = self._count_selectors(spec, window)
        parts = 1
        if spec.sub_window_s and window.duration_s > spec.sub_window_s:
            parts = min(math.ceil(window.duration_s / spec.sub_window_s), MAX_POINTS)
        counts, pieces = self._count(events_sel, total_sel, window, parts, spec.kind.histogram)
        step = window.duration_s / parts
        how = f"exact counter increases over {format_duration(window.duration_s)}" + (
            f" in {parts} sub-windows of {format_duration(round(step, 3))}" if parts > 1 else ""
        )
        if spec.kind.histogram:
            query = f"slow = {total_sel} - {events_sel}; total = {total_sel} ({how})"
        else:
            query = f"events = {events_sel}; total = {total_sel} ({how})"
        notes = (note,) if note else ()
        base_counts: Counts | None = None
        base_window: Window | None = None
        if spec.kind.baseline:
            base_window = _whole_seconds(baseline or window.before())
            base_counts, _ = self._count(events_sel, total_sel, base_window, 1, spec.kind.histogram)
        return Observation(
            query=query,
            window=window,
            counts=counts,
            parts=tuple(pieces) if parts > 1 else (),
            baseline=base_counts,
            baseline_window=base_window,
            freshness=freshness,
            notes=notes,
        )

    def _count_selectors(self, spec: GateSpec, window: Window) -> tuple[str, str, str]:
        """(events selector, total selector, note). For a histogram, events are the FAST ones
        (the le bucket) and are subtracted from the total afterwards."""
        resolved = spec.resolved(self.selector)
        if not spec.kind.histogram:
            return resolved["events"], resolved["total"], ""
        assert spec.le is not None
        buckets = resolved["buckets"]
        dur = f"{round(window.duration_s)}s"
        found = self.query(f"count by (le) (last_over_time({buckets}[{dur}]))", window.end)
        les = sorted(
            {s["metric"].get("le", "") for s in found},
            key=lambda text: _float(text) if text != "+Inf" else math.inf,
        )
        if not les:
            raise QueryError(
                f"the histogram {spec.histogram} has no series for {{{self.selector}}}"
            )
        match = [text for text in les if math.isclose(_float(text), spec.le, rel_tol=1e-9)]
        if not match:
            listed = ", ".join(les)
            below = [t for t in les if _float(t) < spec.le]
            above = [t for t in les if _float(t) > spec.le]
            near = f"; nearest buckets le={below[-1] if below else '-'} and le={above[0]}"
            raise ConfigurationError(
                f'the histogram {spec.histogram} has no le="{spec.le:g}" bucket, so the share '
                f"above {spec.le:g} s cannot be counted (buckets: {listed}{near if above else ''})"
            )
        fast = _with_matcher(buckets, f'le="{match[0]}"')
        return fast, resolved["count"], ""

    def _count(
        self, events_sel: str, total_sel: str, window: Window, parts: int, histogram: bool
    ) -> tuple[Counts | None, list[Counts]]:
        bounds = _Boundaries(window.start, window.duration_s / parts, parts)
        events = self._increases(events_sel, bounds)
        total = self._increases(total_sel, bounds)
        if events is None and total is None:
            return None, []
        ev = events or [0.0] * parts
        tot = total or [0.0] * parts
        pieces = []
        for i in range(parts):
            e = tot[i] - ev[i] if histogram else ev[i]
            pieces.append(Counts(e, tot[i], bounds.at(i), bounds.at(i + 1)))
        all_events = math.fsum(p.events for p in pieces)
        all_total = math.fsum(tot)
        return Counts(all_events, all_total, window.start, window.end), pieces

    def _increases(self, selector: str, bounds: _Boundaries) -> list[float] | None:
        """Per sub-window, the summed increase of every counter series matching `selector`.

        None when no series matches at any boundary.
        """
        matrix = self.query_range(selector, bounds.start, bounds.at(bounds.count), bounds.step)
        if not matrix:
            return None
        sums = [0.0] * bounds.count
        for series in matrix:
            last: float | None = None
            for ts, value in _matrix_points(series):
                i = bounds.index(ts)
                if i is None or not math.isfinite(value):
                    continue
                if last is None:
                    # Present at the window start: its value is the baseline. First seen later:
                    # born inside the window, counted from zero.
                    delta = 0.0 if i == 0 else value
                else:
                    delta = value - last if value >= last else value  # a reset restarts at 0
                if i > 0:
                    sums[i - 1] += delta
                last = value
        return sums

    def _observe_series(
        self, spec: GateSpec, window: Window, query: str, freshness: Freshness
    ) -> Observation:
        step = max(freshness.scrape_interval_s, window.duration_s / MAX_POINTS, 0.001)
        matrix = self.query_range(query, window.start, window.end, step)
        notes: list[str] = []
        points: list[tuple[float, float]] = []
        if len(matrix) == 1:
            points = _matrix_points(matrix[0])
        elif len(matrix) > 1:
            if spec.kind is GateKind.SLOPE:
                raise ConfigurationError(
                    f"the query returns {len(matrix)} series; a growth rate needs one "
                    "(aggregate it with sum or max)"
                )
            worst: dict[float, float] = {}
            upper = spec.comparator in ("<", "<=")
            for series in matrix:
                for ts, value in _matrix_points(series):
                    if ts not in worst or (value > worst[ts] if upper else value < worst[ts]):
                        worst[ts] = value
            points = sorted(worst.items())
            notes.append(f"{len(matrix)} series combined, the worst value at each step")
        return Observation(
            query=f"{query} (range query, step {format_duration(round(step, 3))})",
            window=window,
            points=tuple(points),
            step_s=step,
            freshness=freshness,
            notes=tuple(notes),
        )

    # -- alerts --

    def alert_history(self, window: Window) -> AlertEvidence:
        """Alerts that fired in the window (ALERTS) and the loaded alerting rules by severity."""
        dur = f"{round(window.duration_s)}s"
        alerts: list[Alert] = []
        errors: list[str] = []
        try:
            fired = self.query(f'max_over_time(ALERTS{{alertstate="firing"}}[{dur}])', window.end)
            for series in fired:
                labels = dict(series.get("metric", {}))
                alerts.append(
                    Alert(
                        name=labels.get("alertname", "?"),
                        severity=labels.get("severity", ""),
                        state="fired",
                        source="prometheus",
                        labels=labels,
                    )
                )
        except QueryError as exc:
            errors.append(str(exc))
        rules: dict[str, int] | None = None
        unhealthy: list[str] = []
        try:
            data = self._get_json("/api/v1/rules", {"type": "alert"})
            rules = {}
            for group in data.get("groups", []):
                for rule in group.get("rules", []):
                    severity = rule.get("labels", {}).get("severity", "")
                    rules[severity] = rules.get(severity, 0) + 1
                    if rule.get("health") not in (None, "ok", "unknown"):
                        unhealthy.append(f"{rule.get('name')}: {rule.get('lastError', '')}")
        except QueryError as exc:
            errors.append(str(exc))
        return AlertEvidence(
            alerts=tuple(alerts),
            rules=rules,
            unhealthy_rules=tuple(unhealthy),
            prometheus_error="; ".join(errors) or None,
        )

    def observe_alerts(
        self, window: Window, alertmanager: AlertSource | None = None
    ) -> Observation:
        history = self.alert_history(window)
        return combine_alerts(window, history, alertmanager)


class AlertSource(Protocol):
    """What an Alertmanager-like source offers (see phasegate.gates.alertmanager)."""

    url: str

    def active_alerts(self) -> tuple[tuple[Alert, ...], str | None]: ...


def combine_alerts(
    window: Window, history: AlertEvidence | None, alertmanager: AlertSource | None
) -> Observation:
    """One alerts Observation from Prometheus' history and Alertmanager's active alerts."""
    alerts: list[Alert] = list(history.alerts) if history else []
    am_error: str | None = None
    queries = []
    if history is not None:
        queries.append(f'max_over_time(ALERTS{{alertstate="firing"}}[{window.duration_s:.0f}s])')
    if alertmanager is not None:
        active, am_error = alertmanager.active_alerts()
        alerts.extend(active)
        queries.append(f"{alertmanager.url}/api/v2/alerts (active, silenced, inhibited)")
    else:
        am_error = "no Alertmanager URL given"
    evidence = AlertEvidence(
        alerts=tuple(alerts),
        rules=history.rules if history else None,
        unhealthy_rules=history.unhealthy_rules if history else (),
        alertmanager_error=am_error,
        prometheus_error=(history.prometheus_error if history else "no Prometheus URL given"),
    )
    return Observation(query=" ; ".join(queries), window=window, alerts=evidence)


def configured_interval(status: Any, jobs: set[str]) -> float | None:
    """The scrape interval a Prometheus configuration gives `jobs` (else its global one)."""
    import yaml  # type: ignore[import-untyped]  # schemathesis brings PyYAML

    text = status.get("yaml") if isinstance(status, dict) else None
    try:
        config = yaml.safe_load(text) if isinstance(text, str) else None
    except yaml.YAMLError:
        return None
    if not isinstance(config, dict):
        return None
    found: list[float] = []
    for job in config.get("scrape_configs") or []:
        if isinstance(job, dict) and job.get("job_name") in jobs and job.get("scrape_interval"):
            with contextlib.suppress(ValueError, TypeError):
                found.append(parse_duration(str(job["scrape_interval"])))
    if found:
        return max(found)
    default = (config.get("global") or {}).get("scrape_interval")
    try:
        return parse_duration(str(default)) if default else None
    except ValueError:
        return None


def _whole_seconds(window: Window) -> Window:
    """Range queries run on whole seconds (the client rounds): widen the window outwards to
    whole seconds, so the last scrape before `end` is never cut off, and say so in the evidence."""
    start, end = math.floor(window.start), math.ceil(window.end)
    if end <= start:
        end = start + 1
    return Window(float(start), float(end))


def _selector_equalities(selector: str) -> Sequence[tuple[str, str]]:
    return re.findall(r'(\w+)\s*=\s*"([^"]*)"', selector.replace("!=", "!~").replace("=~", "~~"))


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."
