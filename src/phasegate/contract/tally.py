"""How much of the server's traffic, and of its 5xx, the contract fuzzing itself caused.

The metric gates judge every request the target served, fuzzing included; a reader of a failed
error-rate gate needs to know how many of those errors the suite provoked on purpose (and which
contract checks already report them). One JSON line per contract check, one file per process.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ContractTraffic:
    requests: int = 0
    server_errors: int = 0
    by_check: dict[str, int] = field(default_factory=dict)  # check id -> 5xx answers

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "server_errors": self.server_errors,
            "server_errors_by_check": dict(self.by_check),
        }


def _file(directory: Path, run_id: str, worker: str) -> Path:
    return directory / f"contract-traffic-{run_id}-{worker}.jsonl"


def record_traffic(
    directory: Path, run_id: str, worker: str, check_id: str, requests: int, server_errors: int
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"check": check_id, "requests": requests, "server_errors": server_errors})
    with _file(directory, run_id, worker).open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def read_traffic(directory: Path, run_id: str) -> ContractTraffic:
    requests = errors = 0
    by_check: dict[str, int] = {}
    for path in sorted(directory.glob(f"contract-traffic-{run_id}-*.jsonl")):
        for text in path.read_text("utf-8").splitlines():
            if not text.strip():
                continue
            entry = json.loads(text)
            requests += int(entry["requests"])
            errors += int(entry["server_errors"])
            if entry["server_errors"]:
                by_check[entry["check"]] = by_check.get(entry["check"], 0) + int(
                    entry["server_errors"]
                )
    return ContractTraffic(requests, errors, by_check)


def annotate(entry: dict[str, Any], traffic: ContractTraffic) -> dict[str, Any]:
    """A gate result that says how many of its 5xx the contract provoked; the outcome stays."""
    if not traffic.server_errors:
        return entry
    note = (
        f"; {traffic.server_errors} of the server's 5xx answered this run's contract cases "
        f"({', '.join(sorted(traffic.by_check))})"
    )
    evidence = dict(entry.get("evidence") or {}, contract_traffic=traffic.to_dict())
    return dict(entry, reason=str(entry.get("reason", "")) + note, evidence=evidence)
