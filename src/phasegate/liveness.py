"""Is the target there at all? A bounded preflight probe and a watchdog for a target that dies.

Why: without these, a dead target is discovered by every check in turn, each after its own
connection error, and the verdict lists a hundred "connection refused" rows minutes later. The
preflight asks once, inside a fixed budget, before any check runs; the watchdog notices a target
that stops accepting connections during the run so the run can end early and say when.

Nothing here knows pytest (see `liveness_plugin`).

- `probe` sends GET requests with short timeouts until one is answered or the budget is spent.
  Any HTTP answer counts as "answers" (a 500 is the checks' business, not this module's).
- `Watchdog` opens plain TCP connections, no HTTP: a health request every second would be
  counted by the server's request metrics and dilute the error-rate gate it must not influence.
  Only refused connections count as death; a timeout under heavy load does not (a hanging
  server is judged by the error gates, not declared dead).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

PREFLIGHT_BUDGET_S = 6.0  # with pytest's own start-up, a verdict well inside 15 s
PREFLIGHT_ATTEMPTS = 3
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 4.0
MONITORING_TIMEOUT_S = 3.0
WATCH_PERIOD_S = 1.0
WATCH_FAILURES = 3  # consecutive refused connections before the target counts as dead


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ProbeResult:
    """What a bounded probe of one URL found."""

    url: str
    answered: bool
    attempts: int
    elapsed_s: float
    status: int | None = None
    error: str = ""

    def reason(self, what: str = "target") -> str:
        """The one sentence a verdict shows for an unanswered probe."""
        return (
            f"{what} {self.url} unreachable: {self.error} "
            f"(probed {self.attempts} time{'s' if self.attempts != 1 else ''} "
            f"over {self.elapsed_s:.1f} s)"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error_text(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def probe(
    url: str,
    *,
    budget_s: float = PREFLIGHT_BUDGET_S,
    attempts: int = PREFLIGHT_ATTEMPTS,
    connect_timeout_s: float = CONNECT_TIMEOUT_S,
    read_timeout_s: float = READ_TIMEOUT_S,
    verify: bool = True,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProbeResult:
    """GET `url` until it is answered, at most `attempts` times and never past `budget_s`.

    Attempts are spread over the budget (a target that is still binding its port gets a second
    chance), and each attempt's timeouts are cut to what is left of the budget.
    """
    started = clock()
    deadline = started + budget_s
    spacing = budget_s / max(1, attempts)
    made = 0
    error = "not probed"
    with httpx.Client(verify=verify, transport=transport, follow_redirects=False) as http:
        while made < max(1, attempts):
            left = deadline - clock()
            if made and left <= 0.05:
                break
            made += 1
            begun = clock()
            timeout = httpx.Timeout(
                min(read_timeout_s, max(left, 0.05)),
                connect=min(connect_timeout_s, max(left, 0.05)),
            )
            try:
                response = http.get(
                    url, timeout=timeout, headers=headers or {"User-Agent": "phasegate"}
                )
            except httpx.HTTPError as exc:
                error = _error_text(exc)
            else:
                return ProbeResult(url, True, made, clock() - started, response.status_code)
            pause = min(spacing - (clock() - begun), deadline - clock())
            if made < attempts and pause > 0:
                sleep(pause)
    return ProbeResult(url, False, made, clock() - started, None, error)


def probe_target(api_url: str, **options: Any) -> ProbeResult:
    """The preflight of a SkillMeat target: its /health endpoint."""
    return probe(api_url.rstrip("/") + "/health", **options)


def probe_monitoring(url: str, **options: Any) -> ProbeResult:
    """One short look at Prometheus or Alertmanager (/-/ready), not per-gate retries."""
    options.setdefault("attempts", 1)
    options.setdefault("budget_s", MONITORING_TIMEOUT_S)
    options.setdefault("read_timeout_s", MONITORING_TIMEOUT_S)
    return probe(url.rstrip("/") + "/-/ready", **options)


# -- the watchdog --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Death:
    """When the target stopped accepting connections, as the verdict reports it."""

    url: str
    died_at: str  # UTC, the first refused connection of the run that ended it
    last_alive_at: str  # UTC, the last accepted connection
    error: str
    probes: int  # refused connections in a row
    detected_at: str = ""
    running: tuple[str, ...] = ()  # checks (node ids) that were running at died_at

    def reason(self, running: str = "") -> str:
        during = f" while {running} was running" if running else ""
        return (
            f"target {self.url} died at {self.died_at}{during}: {self.error} "
            f"({self.probes} refused connections in a row; last answered at "
            f"{self.last_alive_at}); the run stopped early"
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["running"] = list(self.running)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Death:
        fields = dict(data)
        fields["running"] = tuple(fields.get("running") or ())
        return cls(**fields)


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "127.0.0.1", port


def tcp_refused(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why a TCP connection to the URL's host and port was refused, or None when it was not.

    A timeout is not a refusal (see the module docstring), so it returns None too.
    """
    try:
        with socket.create_connection(_address(url), timeout=timeout_s):
            return None
    except TimeoutError:
        return None
    except OSError as exc:
        return _error_text(exc)


class Watchdog:
    """A daemon thread that calls `on_death` once when the target refuses `failures` connections
    in a row, `period_s` apart."""

    def __init__(
        self,
        url: str,
        on_death: Callable[[Death], None],
        *,
        period_s: float = WATCH_PERIOD_S,
        failures: int = WATCH_FAILURES,
        running: Callable[[], tuple[str, ...]] = tuple,
        refused: Callable[[str], str | None] = tcp_refused,
    ) -> None:
        self.url = url
        self.on_death = on_death
        self.period_s = period_s
        self.failures = max(1, failures)
        self.running = running
        self.refused = refused
        self.death: Death | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="phasegate-watchdog", daemon=True)

    def start(self) -> Watchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.period_s + CONNECT_TIMEOUT_S + 1)

    def _watch(self) -> None:
        last_alive = utc_now()
        first_failure: str | None = None
        first_error = ""
        running_then: tuple[str, ...] = ()
        streak = 0
        while not self._stop.wait(self.period_s):
            error = self.refused(self.url)
            if error is None:
                last_alive, first_failure, streak = utc_now(), None, 0
                continue
            if first_failure is None:
                first_failure, first_error, running_then = utc_now(), error, self.running()
            streak += 1
            if streak >= self.failures:
                self.death = Death(
                    url=self.url,
                    died_at=first_failure,
                    last_alive_at=last_alive,
                    error=first_error,
                    probes=streak,
                    detected_at=utc_now(),
                    running=running_then or self.running(),
                )
                self.on_death(self.death)
                return


def notice_path(directory: Path, run_id: str) -> Path:
    """Where the controller tells every process of the run to stop: the target is gone."""
    return directory / f"target-gone-{run_id}.json"


@dataclass(frozen=True)
class StopNotice:
    """Why every remaining check is not attempted: never reached, or died (then `death`)."""

    reason: str
    death: Death | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "death": self.death.to_dict() if self.death else None}


def write_notice(path: Path, notice: StopNotice) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(notice.to_dict()), encoding="utf-8")
    tmp.replace(path)


def read_notice(path: Path) -> StopNotice | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        death = Death.from_dict(data["death"]) if data.get("death") else None
        return StopNotice(str(data["reason"]), death)
    except (OSError, ValueError, TypeError, KeyError):
        return None
