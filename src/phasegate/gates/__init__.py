"""Metric gates: the rollout plan's criteria judged from Prometheus and Alertmanager.

A gate is data (GateSpec rows in catalog.toml, changed by a user's override file), a pure function
(`evaluate(spec, observation) -> GateResult`) and a source (PrometheusSource, AlertmanagerClient).
`run_gates(phase, prometheus_url=..., alertmanager_url=...)` does all three for one phase.
"""

from phasegate.gates.alertmanager import AlertmanagerClient
from phasegate.gates.evaluate import evaluate
from phasegate.gates.observation import Alert, AlertEvidence, Counts, Freshness, Observation, Window
from phasegate.gates.prometheus import PrometheusSource, combine_alerts
from phasegate.gates.result import GateResult
from phasegate.gates.run import run_gates
from phasegate.gates.spec import (
    DEFAULT_SELECTOR,
    PHASE_WINDOWS_S,
    Catalog,
    CatalogError,
    GateKind,
    GateSpec,
    NoData,
    Severity,
    load,
    load_catalog,
    read_overrides,
)

__all__ = [
    "DEFAULT_SELECTOR",
    "PHASE_WINDOWS_S",
    "Alert",
    "AlertEvidence",
    "AlertmanagerClient",
    "Catalog",
    "CatalogError",
    "Counts",
    "Freshness",
    "GateKind",
    "GateResult",
    "GateSpec",
    "NoData",
    "Observation",
    "PrometheusSource",
    "Severity",
    "Window",
    "combine_alerts",
    "evaluate",
    "load",
    "load_catalog",
    "read_overrides",
    "run_gates",
]
