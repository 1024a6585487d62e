"""Load shapes: ramp, steady state and spike, opt-in with PHASEGATE_LOAD_SHAPE.

Locust uses the first shape class it finds and then ignores -u/-r/-t, so every shape here stays
abstract unless `PHASEGATE_LOAD_SHAPE` names it: `locust -f tests/load` keeps the plain
`-u N -r R -t T` behaviour. The shapes scale to the command line's `--users` (the peak) and
`--run-time` (the total), so one setting changes one number:

- ramp:   rise linearly from 1 user to the peak over the run, then stop;
- steady: reach the peak in a tenth of the run, hold it, stop;
- spike:  hold a third of the peak, jump to the full peak for a fifth of the run, fall back.

    PHASEGATE_LOAD_SHAPE=spike locust -f tests/load --headless -u 40 -t 2m --host URL
"""

from __future__ import annotations

import os

from locust import LoadTestShape

SHAPE = os.environ.get("PHASEGATE_LOAD_SHAPE", "").strip().lower()
DEFAULT_PEAK = 20
DEFAULT_RUN_S = 60


class _Scaled(LoadTestShape):
    abstract = True
    use_common_options = True

    def peak_and_total(self) -> tuple[int, float]:
        options = getattr(getattr(self.runner, "environment", None), "parsed_options", None)
        peak = int(getattr(options, "num_users", None) or DEFAULT_PEAK)
        total = float(getattr(options, "run_time", None) or DEFAULT_RUN_S)
        return max(1, peak), max(5.0, total)


class RampShape(_Scaled):
    abstract = SHAPE != "ramp"

    def tick(self):
        peak, total = self.peak_and_total()
        now = self.get_run_time()
        if now >= total:
            return None
        users = max(1, round(peak * now / total))
        return users, max(1.0, peak / total * 2)


class SteadyShape(_Scaled):
    abstract = SHAPE != "steady"

    def tick(self):
        peak, total = self.peak_and_total()
        now = self.get_run_time()
        if now >= total:
            return None
        return peak, max(1.0, peak / (total / 10))


class SpikeShape(_Scaled):
    abstract = SHAPE != "spike"

    def tick(self):
        peak, total = self.peak_and_total()
        now = self.get_run_time()
        if now >= total:
            return None
        base = max(1, peak // 3)
        start, end = total * 0.4, total * 0.6
        if start <= now < end:
            return peak, float(peak)  # the spike arrives within about a second
        return base, float(peak)
