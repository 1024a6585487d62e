"""What one pytest run knows about itself, and where the plugin keeps it.

The plugin writes this state (settings, the target it chose, the embedded stack, the results);
the fixtures read it to hand checks what they need. Both import it from here, so neither imports
the other, and checks never see it at all: they ask for fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from phasegate.checks import CheckMeta
from phasegate.client import ClientConfig
from phasegate.contract.profiles import ContractProfile
from phasegate.evidence import Evidence
from phasegate.settings import Settings
from phasegate.stack.embedded import EmbeddedStack
from phasegate.verdict import Verdict


@dataclass
class RunState:
    settings: Settings
    run_id: str
    controller: bool
    api_url: str | None = None
    stable_url: str | None = None  # phase 3: the flag-OFF side directly (embedded or --stable-url)
    canary_url: str | None = None  # phase 3: the flag-ON side directly (embedded or --canary-url)
    balancer_dir: str | None = None  # phase 3, embedded: the run's nginx folder (rollback)
    canary_pid: int | None = None  # phase 3, embedded: the canary's process group (rollback)
    stack: EmbeddedStack | None = None
    stack_problem: str | None = None
    skillmeat_version: str | None = None
    prometheus_url: str | None = None
    alertmanager_url: str | None = None
    monitoring_since: float | None = None  # first scraped sample of the embedded Prometheus
    monitoring_problem: str | None = None
    started_at: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    run_reasons: list[str] = field(default_factory=list)
    verdict_path: Path | None = None
    verdict: Verdict | None = None
    previous_sigterm: Any = None
    contract_profile: ContractProfile | None = None
    allure_dir: Path | None = None  # set when phasegate chose the Allure results directory

    @property
    def ledger_dir(self) -> Path:
        return self.settings.report_dir / ".ledger"

    def client_config(self) -> ClientConfig:
        return ClientConfig(
            api_url=self.api_url or "",
            api_version=self.settings.api_version,
            timeout_s=self.settings.request_timeout,
            api_key=self.settings.api_key,
            api_token=self.settings.api_token,
            run_id=self.run_id,
        )


# The run's state, on config.stash (one per pytest session, so pytester runs stay apart).
STATE = pytest.StashKey[RunState]()
# A phase check's declaration, on item.stash (set at collection).
META = pytest.StashKey[CheckMeta]()
# A check's evidence record, on item.stash (created by the `evidence` fixture, read by the hooks).
EVIDENCE = pytest.StashKey[Evidence]()


def state_of(config: pytest.Config) -> RunState | None:
    return config.stash.get(STATE, None)
