"""Which parts of a phase-3 deployment this run can reach, and what a check lacks without them.

The balancer is the run's target (`--api-url`, or the embedded nginx); the two sides directly
(`--stable-url`, `--canary-url`) and the Prometheus selectors of their series are separate, so a
check that needs a side nobody named concludes INCONCLUSIVE with the option to pass, never PASS.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CanarySides:
    balancer_url: str
    stable_url: str | None
    canary_url: str | None
    stable_selector: str
    canary_selector: str
    embedded: bool
    prometheus_url: str | None = None

    def missing(self, *needs: str) -> str | None:
        """Why a check needing `needs` ("stable", "canary", "prometheus") cannot decide, or None."""
        lacking = []
        if "stable" in needs and not self.stable_url:
            lacking.append("the stable instance directly (--stable-url)")
        if "canary" in needs and not self.canary_url:
            lacking.append("the canary instance directly (--canary-url)")
        if "prometheus" in needs and not self.prometheus_url:
            lacking.append("Prometheus (--prometheus-url)")
        if not lacking:
            return None
        return "this check needs " + " and ".join(lacking) + "; the run has none"

    def url_of(self, role: str) -> str:
        url = self.stable_url if role == "stable" else self.canary_url
        if not url:
            raise ValueError(f"no URL for the {role} side")
        return url
