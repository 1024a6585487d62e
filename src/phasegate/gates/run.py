"""Run a phase's gates against a Prometheus (and an Alertmanager): the one call a caller needs.

    results = run_gates("phase2", prometheus_url=..., alertmanager_url=...)

Each gate is judged over its window ending at `end` (default: now): the caller's `window_s` when
given (a `--gate-window`), else the gate's own catalog window, else the phase's monitoring
duration from the plan. Nothing here raises for an unreachable or empty Prometheus: those gates
come back INCONCLUSIVE with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from phasegate.gates.alertmanager import AlertmanagerClient
from phasegate.gates.evaluate import evaluate
from phasegate.gates.observation import Observation, Window
from phasegate.gates.prometheus import PrometheusSource, combine_alerts
from phasegate.gates.result import GateResult
from phasegate.gates.spec import DEFAULT_SELECTOR, Catalog, GateKind, GateSpec, load, select


def gate_window(spec: GateSpec, phase: str, end: float, window_s: float | None) -> Window:
    return Window.ending(window_s if window_s is not None else spec.window_for(phase), end)


def observe(
    spec: GateSpec,
    window: Window,
    prometheus: PrometheusSource | None,
    alertmanager: AlertmanagerClient | None,
    baseline: Window | None = None,
) -> Observation:
    if spec.kind is GateKind.ALERTS:
        history = prometheus.alert_history(window) if prometheus is not None else None
        return combine_alerts(window, history, alertmanager)
    if prometheus is None:
        return Observation(window=window, error="no Prometheus URL given")
    return prometheus.observe(spec, window, baseline)


def run_gates(
    phase: str,
    *,
    prometheus_url: str | None,
    alertmanager_url: str | None = None,
    window_s: float | None = None,
    end: float | None = None,
    baseline: Window | None = None,
    selector: str = DEFAULT_SELECTOR,
    catalog: Catalog | None = None,
    overrides: Path | None = None,
    ids: Iterable[str] | None = None,
    disable_ssl: bool = False,
    scrape_interval_s: float | None = None,
    attempts: int = 3,
) -> list[GateResult]:
    """Evaluate every gate of `phase` (or only `ids`) and return their results in catalog order.

    CatalogError (a bad override file or an unknown id) is the only exception raised on purpose.
    """
    cat = catalog if catalog is not None else load(overrides)
    specs = select(cat, ids) if ids is not None else cat.for_phase(phase)
    finish = time.time() if end is None else end
    prometheus = (
        PrometheusSource(
            prometheus_url,
            selector=selector,
            disable_ssl=disable_ssl,
            scrape_interval_s=scrape_interval_s,
            attempts=attempts,
        )
        if prometheus_url
        else None
    )
    alertmanager = (
        AlertmanagerClient(alertmanager_url, disable_ssl=disable_ssl, attempts=attempts)
        if alertmanager_url
        else None
    )
    results = []
    for spec in specs:
        window = gate_window(spec, phase, finish, window_s)
        observation = observe(spec, window, prometheus, alertmanager, baseline)
        results.append(evaluate(spec, observation))
    return results
