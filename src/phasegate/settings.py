"""Every option phasegate reads, resolved once into a frozen Settings.

One precedence for all of them: command line > environment > ini file > default. A bad value is
reported with the option's name, where it came from and what was expected, so the plugin can turn
it into a pytest usage error instead of a traceback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from phasegate.durations import parse_duration
from phasegate.phases import Phase, PhaseError, parse_phase

T = TypeVar("T")


class SettingsError(ValueError):
    """A value the user gave cannot be used; the message names the option and its source."""


@dataclass(frozen=True)
class OptionSpec:
    name: str  # the dest / ini name, e.g. "api_url"
    flag: str  # the command-line flag, e.g. "--api-url"
    env: str | None
    help: str
    default: str | None = None
    secret: bool = False


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "api_url",
        "--api-url",
        "SKILLMEAT_API_URL",
        "SkillMeat base URL to test; without it phasegate starts the embedded stack",
    ),
    OptionSpec(
        "api_version", "--api-version", "SKILLMEAT_API_VERSION", "API version segment", default="v1"
    ),
    OptionSpec(
        "phase",
        "--phase",
        "PHASEGATE_PHASE",
        "rollout phase (phase1..phase4); else taken from a -m naming exactly one phase",
    ),
    OptionSpec(
        "prometheus_url",
        "--prometheus-url",
        "PHASEGATE_PROMETHEUS_URL",
        "Prometheus base URL for the metric gates",
    ),
    OptionSpec(
        "alertmanager_url",
        "--alertmanager-url",
        "PHASEGATE_ALERTMANAGER_URL",
        "Alertmanager base URL for the alert gates",
    ),
    OptionSpec(
        "grafana_url",
        "--grafana-url",
        "PHASEGATE_GRAFANA_URL",
        "Grafana base URL (reachability check)",
    ),
    OptionSpec(
        "api_key",
        "--api-key",
        "SKILLMEAT_API_KEY",
        "API key (prefer the env variable: a flag shows in the process list)",
        secret=True,
    ),
    OptionSpec(
        "api_token",
        "--api-token",
        "SKILLMEAT_API_TOKEN",
        "bearer token (prefer the env variable)",
        secret=True,
    ),
    OptionSpec(
        "report_dir",
        "--report-dir",
        "PHASEGATE_REPORT_DIR",
        "where verdicts, logs and reports go",
        default="reports",
    ),
    OptionSpec(
        "request_timeout",
        "--request-timeout",
        "PHASEGATE_REQUEST_TIMEOUT",
        "seconds per HTTP request",
        default="10",
    ),
    OptionSpec(
        "skillmeat_version",
        "--skillmeat-version",
        "PHASEGATE_SKILLMEAT_VERSION",
        "SkillMeat release the embedded stack installs from PyPI",
        default="0.74.0",
    ),
    OptionSpec(
        "gate_window",
        "--gate-window",
        "PHASEGATE_GATE_WINDOW",
        "how far back the metric gates look (e.g. 4h, 24h, 48h, 90m); default: the plan's "
        "monitoring duration of the phase, or the embedded stack's whole life",
    ),
    OptionSpec(
        "gate_overrides",
        "--gate-overrides",
        "PHASEGATE_GATE_OVERRIDES",
        "TOML file overriding gate thresholds and windows by id",
    ),
    OptionSpec(
        "load_users",
        "--load-users",
        "PHASEGATE_LOAD_USERS",
        "simulated users of the load gate (1..1000)",
        default="10",
    ),
    OptionSpec(
        "load_duration",
        "--load-duration",
        "PHASEGATE_LOAD_DURATION",
        "how long the load gate runs (5s..60m; default: sized from the mix so every endpoint "
        "group and the failure share can reach their design n, at most 15m)",
    ),
    OptionSpec(
        "load_spawn_rate",
        "--load-spawn-rate",
        "PHASEGATE_LOAD_SPAWN_RATE",
        "users started per second (default: users/10)",
    ),
    OptionSpec(
        "load_workers",
        "--load-workers",
        "PHASEGATE_LOAD_WORKERS",
        "0: one locust process; N: a master on 127.0.0.1 plus N local workers",
        default="0",
    ),
    OptionSpec(
        "contract_profile",
        "--contract-profile",
        "PHASEGATE_CONTRACT_PROFILE",
        "contract fuzzing profile: auto (full in phases 1-2, safe in 3-4), full (every method, "
        "invalid input too) or safe (read-only, rate-limited, few examples)",
        default="auto",
    ),
    OptionSpec(
        "contract_examples",
        "--contract-examples",
        "PHASEGATE_CONTRACT_EXAMPLES",
        "generated examples per operation and mode (1..500; default: the profile's)",
    ),
    OptionSpec(
        "contract_seed",
        "--contract-seed",
        "PHASEGATE_CONTRACT_SEED",
        "seed of the contract fuzzing (same seed, same cases)",
        default="0",
    ),
    OptionSpec(
        "contract_schema",
        "--contract-schema",
        "PHASEGATE_CONTRACT_SCHEMA",
        "OpenAPI file or URL to fuzz against (default: the target's /api/<version>/openapi.json)",
    ),
    OptionSpec(
        "writes",
        "--writes",
        "PHASEGATE_WRITES",
        "allow: checks may create (and then delete) data on the target; deny: those checks are "
        "skipped and the verdict cannot be GO",
        default="allow",
    ),
    OptionSpec(
        "soak",
        "--soak",
        "PHASEGATE_SOAK",
        "keep the stack under the phase's bounded traffic this long before the metric gates are "
        "judged (e.g. 5m for the CPU gate, 1h for growth and leak); 0: no soak. On --api-url "
        "only with --writes=allow",
        default="0",
    ),
    OptionSpec(
        "auth_expected",
        "--auth-expected",
        "PHASEGATE_AUTH_EXPECTED",
        "does the --api-url deployment authenticate? yes: the auth checks expect every Memory & "
        "Context request without or with wrong credentials refused (401/403); no: they are "
        "INCONCLUSIVE (not judged); auto: yes when --api-key or --api-token is given, else "
        "INCONCLUSIVE. The embedded default probes SkillMeat's own auth modes instead",
        default="auto",
    ),
    OptionSpec(
        "stable_url",
        "--stable-url",
        "PHASEGATE_STABLE_URL",
        "phase 3: the stable (flag OFF) instance directly, beside --api-url (the balancer); "
        "without it the checks comparing the two sides are INCONCLUSIVE",
    ),
    OptionSpec(
        "canary_url",
        "--canary-url",
        "PHASEGATE_CANARY_URL",
        "phase 3: the canary (flag ON) instance directly, beside --api-url (the balancer); "
        "without it the checks comparing the two sides are INCONCLUSIVE",
    ),
    OptionSpec(
        "stable_selector",
        "--stable-selector",
        "PHASEGATE_STABLE_SELECTOR",
        "phase 3: Prometheus label matchers of the stable instance's series, e.g. "
        'instance="api-1:8080"',
        default='role="stable"',
    ),
    OptionSpec(
        "canary_selector",
        "--canary-selector",
        "PHASEGATE_CANARY_SELECTOR",
        "phase 3: Prometheus label matchers of the canary instance's series, e.g. "
        'instance="api-canary:8080"',
        default='role="canary"',
    ),
)

# One or more Prometheus label matchers, comma-separated: name="value", name=~"regex", ...
_MATCHER = r'\s*[a-zA-Z_][a-zA-Z0-9_]*\s*(=|!=|=~|!~)\s*"(?:[^"\\]|\\.)*"\s*'
_SELECTOR = re.compile(rf"^{_MATCHER}(,{_MATCHER})*$")
_VERSION_SEGMENT = re.compile(r"^v[0-9]+$")
_RELEASE = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?$")


@dataclass(frozen=True)
class Settings:
    api_url: str | None
    api_version: str
    phase: Phase | None
    prometheus_url: str | None
    alertmanager_url: str | None
    grafana_url: str | None
    api_key: str | None
    api_token: str | None
    report_dir: Path
    request_timeout: float
    skillmeat_version: str
    writes_allowed: bool
    gate_window_s: float | None
    load: Mapping[str, str]  # PHASEGATE_LOAD_* name -> value, validated by phasegate.load
    gate_overrides: Path | None
    sources: Mapping[str, str]
    contract_profile: str = "auto"
    contract_examples: int | None = None
    contract_seed: int = 0
    contract_schema: str | None = None
    soak: float = 0.0  # seconds of soak traffic before the gates are judged (--soak)
    auth_expected: str = "auto"  # does the --api-url deployment authenticate (--auth-expected)
    stable_url: str | None = None  # phase 3, a deployment: the stable instance directly
    canary_url: str | None = None  # phase 3, a deployment: the canary instance directly
    stable_selector: str = 'role="stable"'  # Prometheus matchers of the stable side's series
    canary_selector: str = 'role="canary"'  # Prometheus matchers of the canary side's series

    @property
    def embedded(self) -> bool:
        return self.api_url is None

    def public(self) -> dict[str, Any]:
        """The settings as a report may show them: secrets only say whether they are set."""
        shown: dict[str, Any] = {}
        for spec in OPTIONS:
            if spec.name == "writes":
                shown["writes"] = "allow" if self.writes_allowed else "deny"
                continue
            if spec.name in _LOAD_OPTIONS:
                shown[spec.name] = self.load.get(str(spec.env))
                continue
            if spec.name == "gate_window":
                shown["gate_window"] = self.gate_window_s
                continue
            value = getattr(self, spec.name)
            if spec.secret:
                shown[spec.name] = "set" if value else "not set"
            elif isinstance(value, Path | Phase):
                shown[spec.name] = str(value)
            else:
                shown[spec.name] = value
        return shown


def _pick(
    spec: OptionSpec, cli: Mapping[str, Any], env: Mapping[str, str], ini: Mapping[str, str | None]
) -> tuple[str | None, str]:
    value = cli.get(spec.name)
    if value is not None:
        return str(value), f"command line {spec.flag}"
    if spec.env and env.get(spec.env):
        return env[spec.env], f"environment {spec.env}"
    ini_value = ini.get(spec.name)
    if ini_value:
        return ini_value, f"ini phasegate_{spec.name}"
    return spec.default, "default"


def _bad(spec: OptionSpec, value: str, source: str, expected: str) -> SettingsError:
    shown = "***" if spec.secret else repr(value)
    return SettingsError(f"{spec.flag}: invalid value {shown} (from {source}): {expected}")


def _url(spec: OptionSpec, value: str | None, source: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _bad(spec, value, source, "expected an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise _bad(spec, value, source, "expected a base URL without query or fragment")
    return value.strip().rstrip("/")


def _convert(
    spec: OptionSpec, value: str | None, source: str, convert: Callable[[str], T], expected: str
) -> T:
    if value is None:
        raise _bad(spec, "", source, expected)
    try:
        return convert(value)
    except (ValueError, PhaseError) as exc:
        raise _bad(spec, value, source, f"{expected} ({exc})") from None


def _timeout(text: str) -> float:
    seconds = float(text)
    if not math.isfinite(seconds) or seconds <= 0 or seconds > 600:
        raise ValueError("must be between 0 and 600 seconds")
    return seconds


def _match(pattern: re.Pattern[str]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if not pattern.match(text):
            raise ValueError(f"does not match {pattern.pattern}")
        return text

    return check


def resolve(
    cli: Mapping[str, Any],
    env: Mapping[str, str],
    ini: Mapping[str, str | None],
    phase_from_marks: Phase | None = None,
) -> Settings:
    """Resolve every option once. `phase_from_marks` is the phase a -m expression names."""
    raw = {spec.name: _pick(spec, cli, env, ini) for spec in OPTIONS}
    spec_by = {spec.name: spec for spec in OPTIONS}

    def url(name: str) -> str | None:
        return _url(spec_by[name], *raw[name])

    phase: Phase | None = None
    phase_value, phase_source = raw["phase"]
    if phase_value is not None:
        phase = _convert(
            spec_by["phase"],
            phase_value,
            phase_source,
            parse_phase,
            "expected phase1, phase2, phase3 or phase4",
        )
        if phase_from_marks is not None and phase_from_marks is not phase:
            raise SettingsError(
                f"--phase: {phase.value} (from {phase_source}) contradicts -m, which selects "
                f"{phase_from_marks.value}"
            )
    else:
        phase = phase_from_marks

    report_value, _ = raw["report_dir"]
    return Settings(
        api_url=url("api_url"),
        api_version=_convert(
            spec_by["api_version"],
            *raw["api_version"],
            _match(_VERSION_SEGMENT),
            "expected a version segment such as v1",
        ),
        phase=phase,
        prometheus_url=url("prometheus_url"),
        alertmanager_url=url("alertmanager_url"),
        grafana_url=url("grafana_url"),
        api_key=raw["api_key"][0],
        api_token=raw["api_token"][0],
        report_dir=Path(report_value or "reports"),
        request_timeout=_convert(
            spec_by["request_timeout"],
            *raw["request_timeout"],
            _timeout,
            "expected a positive number of seconds",
        ),
        skillmeat_version=_convert(
            spec_by["skillmeat_version"],
            *raw["skillmeat_version"],
            _match(_RELEASE),
            "expected a release such as 0.74.0",
        ),
        writes_allowed=_convert(
            spec_by["writes"], *raw["writes"], _allow_deny, "expected allow or deny"
        ),
        gate_window_s=(
            None
            if raw["gate_window"][0] is None
            else _convert(
                spec_by["gate_window"],
                *raw["gate_window"],
                _gate_window,
                "expected a duration",
            )
        ),
        gate_overrides=(
            None
            if raw["gate_overrides"][0] is None
            else _convert(
                spec_by["gate_overrides"], *raw["gate_overrides"], _existing_file, "expected a file"
            )
        ),
        load=_load_options(spec_by, raw),
        sources={name: source for name, (_, source) in raw.items()},
        contract_profile=_convert(
            spec_by["contract_profile"],
            *raw["contract_profile"],
            _one_of(("auto", "full", "safe")),
            "expected auto, full or safe",
        ),
        contract_examples=(
            None
            if raw["contract_examples"][0] is None
            else _convert(
                spec_by["contract_examples"],
                *raw["contract_examples"],
                _int_between(1, 500),
                "expected a whole number of examples",
            )
        ),
        contract_seed=_convert(
            spec_by["contract_seed"],
            *raw["contract_seed"],
            _int_between(0, 2**32 - 1),
            "expected a whole number",
        ),
        contract_schema=raw["contract_schema"][0],
        soak=_convert(spec_by["soak"], *raw["soak"], _soak, "expected a duration such as 5m, or 0"),
        auth_expected=_convert(
            spec_by["auth_expected"],
            *raw["auth_expected"],
            _one_of(("auto", "yes", "no")),
            "expected auto, yes or no",
        ),
        stable_url=url("stable_url"),
        canary_url=url("canary_url"),
        stable_selector=_convert(
            spec_by["stable_selector"],
            *raw["stable_selector"],
            _match(_SELECTOR),
            'expected Prometheus label matchers such as role="stable"',
        ),
        canary_selector=_convert(
            spec_by["canary_selector"],
            *raw["canary_selector"],
            _match(_SELECTOR),
            'expected Prometheus label matchers such as role="canary"',
        ),
    )


_LOAD_OPTIONS = ("load_users", "load_duration", "load_spawn_rate", "load_workers")


def _load_options(
    spec_by: Mapping[str, OptionSpec], raw: Mapping[str, tuple[str | None, str]]
) -> dict[str, str]:
    """The load gate's size, checked now so a bad value is a usage error, not a failed check."""
    from phasegate.load.config import LoadSettingsError, load_settings

    values: dict[str, str] = {}
    for name in _LOAD_OPTIONS:
        value = raw[name][0]
        env = spec_by[name].env
        if value is not None and env:
            values[env] = value
    try:
        load_settings(values)
    except LoadSettingsError as exc:
        name = next((n for n in _LOAD_OPTIONS if str(spec_by[n].env) in str(exc)), _LOAD_OPTIONS[0])
        value, source = raw[name]
        raise _bad(spec_by[name], value or "", source, str(exc).split(": ", 1)[-1]) from None
    return values


def _gate_window(text: str) -> float:
    seconds = parse_duration(text)
    if not 1 <= seconds <= 90 * 86400:
        raise ValueError("must be between 1 s and 90 days")
    return seconds


def _soak(text: str) -> float:
    """0 (no soak, the default) or a duration up to a week, in phasegate.durations' grammar."""
    if text.strip() == "0":
        return 0.0
    seconds = parse_duration(text)
    if seconds > 7 * 86400:
        raise ValueError("must be at most 1 week")
    return seconds


def _existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise ValueError("no such file")
    return path


def _allow_deny(text: str) -> bool:
    value = text.strip().lower()
    if value not in {"allow", "deny"}:
        raise ValueError("not allow or deny")
    return value == "allow"


def _one_of(choices: tuple[str, ...]) -> Callable[[str], str]:
    def check(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"not one of {', '.join(choices)}")
        return value

    return check


def _int_between(low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        value = int(text.strip())
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return check
