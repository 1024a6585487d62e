"""False GO and power of the canary-against-stable designs (`phasegate.canary.compare`).

Not a test and not timed: it prints (and stores in bench/results/canary_power.json) what each
fixed design promises.

- split, error rate, share over 500 ms: exact binomial probabilities at the design's n (the
  same sums the designs are chosen by), plus the error-rate design at a stable instance that
  already errs (baseline 0.02% and 0.05%): how much larger n must be to PASS with 90%.
- latency: the rank test's design is sized with a normal approximation, so its false PASS (true
  r at the floor) and powers (identical arms: PASS; r = 0.3: FAIL) are simulated here with the
  suite's own `compare_latency` on lognormal latencies (sigma 0.5) whose log-shift gives the
  wanted r exactly: theta = Phi(delta / (sigma sqrt 2)).

    .venv/bin/python bench/canary_power.py [--runs 1000] [--seed 20261202]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from statistics import NormalDist

import numpy as np

from phasegate.canary.compare import (
    ArmSample,
    compare_latency,
    design_n,
    difference_design,
)
from phasegate.outcomes import Outcome

RESULTS = Path(__file__).resolve().parent / "results" / "canary_power.json"
SIGMA = 0.5


def _log_shift_for(r: float) -> float:
    theta = (1.0 + r) / 2.0
    return SIGMA * math.sqrt(2.0) * NormalDist().inv_cdf(theta) if r else 0.0


def simulate_latency(r: float, runs: int, seed: int) -> dict[str, float]:
    design = design_n().latency
    rng = np.random.default_rng(seed)
    shift = _log_shift_for(r)
    counts = dict.fromkeys(Outcome, 0)
    for _ in range(runs):
        stable = rng.lognormal(math.log(0.04), SIGMA, design.stable_n)
        canary = rng.lognormal(math.log(0.04) + shift, SIGMA, design.canary_n)
        outcome = compare_latency(
            ArmSample("stable", design.stable_n, 0, tuple(stable.tolist())),
            ArmSample("canary", design.canary_n, 0, tuple(canary.tolist())),
        ).outcome
        counts[outcome] += 1
    return {
        "true_r": r,
        "runs": runs,
        "pass": counts[Outcome.PASS] / runs,
        "fail": counts[Outcome.FAIL] / runs,
        "inconclusive": counts[Outcome.INCONCLUSIVE] / runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=20261202)
    args = parser.parse_args()
    started = time.monotonic()
    design = design_n()
    out: dict[str, object] = {"design": design.to_dict()}
    baselines = {}
    for baseline in (0.0002, 0.0005):
        d = difference_design("error rate", 0.001, baseline=baseline)
        baselines[f"{baseline:g}"] = d.to_dict()
        print(
            f"error rate at a stable baseline of {baseline:.2%}: canary {d.canary_n:,} / "
            f"stable {d.stable_n:,}; P(PASS | identical) {d.pass_power:.3f}, "
            f"false PASS {d.false_pass:.4f}, P(FAIL | +0.5 points) {d.fail_power:.3f}"
        )
    out["errors_at_baselines"] = baselines
    latency = {}
    for label, r in (
        ("identical", 0.0),
        ("at_floor", design.latency.effect_floor),
        ("at_effect", design.latency.effect),
    ):
        latency[label] = simulate_latency(r, args.runs, args.seed)
        print(f"latency, true r = {r:g}: {latency[label]}")
    out["latency_simulated"] = latency
    out["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(design.to_dict(), indent=1))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
