"""settings.resolve: one precedence (CLI > env > ini > default) and usage errors that explain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from phasegate.phases import Phase
from phasegate.settings import OPTIONS, Settings, SettingsError, _bad, resolve

SPEC = {spec.name: spec for spec in OPTIONS}
HERE = Path(__file__).resolve()
REPO = HERE.parents[2]

# Per option: a valid value for each layer, and how resolve() should present it.
LAYERS: dict[str, tuple[str, str, str]] = {
    "api_url": ("http://cli.example:8080/", "https://env.example", "http://ini.example/base"),
    "api_version": ("v3", "v2", "v7"),
    "phase": ("phase3", "2", "Phase4"),
    "prometheus_url": ("http://prom-cli:9090", "http://prom-env:9090", "http://prom-ini:9090"),
    "alertmanager_url": ("http://am-cli:9093", "http://am-env:9093", "http://am-ini:9093"),
    "grafana_url": ("http://gf-cli:3000", "http://gf-env:3000", "http://gf-ini:3000"),
    "api_key": ("key-from-cli", "key-from-env", "key-from-ini"),
    "api_token": ("tok-from-cli", "tok-from-env", "tok-from-ini"),
    "report_dir": ("cli-reports", "env-reports", "ini-reports"),
    "request_timeout": ("3", "4.5", "600"),
    "skillmeat_version": ("1.0.0", "0.75.0rc1", "0.9"),
    "writes": ("deny", "allow", " DENY "),
    "gate_window": ("4h", "90", "1h30m"),
    "gate_overrides": (str(HERE), str(REPO / "pyproject.toml"), str(REPO / "README.md")),
    "load_users": ("20", "5", "1000"),
    "load_duration": ("30s", "2m", "1m30s"),
    "load_spawn_rate": ("2", "0.5", "100"),
    "load_workers": ("2", "0", "64"),
    "contract_profile": ("safe", "full", " Auto "),
    "contract_examples": ("5", "1", "500"),
    "contract_seed": ("7", "0", "4294967295"),
    "contract_schema": ("/tmp/openapi.json", "https://schema.example/openapi.json", "api.json"),
    "soak": ("5m", "90", "1h30m"),
    "auth_expected": ("yes", "no", " Auto "),
    "stable_url": ("http://st-cli:8080", "http://st-env:8080", "http://st-ini:8080"),
    "canary_url": ("http://ca-cli:8081", "http://ca-env:8081", "http://ca-ini:8081"),
    "stable_selector": ('role="stable"', 'instance="api-1:8080"', 'job="api",role!="canary"'),
    "canary_selector": ('role="canary"', 'instance=~"canary.*"', 'job="api", role="canary"'),
}

DEFAULTS: dict[str, Any] = {
    "api_url": None,
    "api_version": "v1",
    "phase": None,
    "prometheus_url": None,
    "alertmanager_url": None,
    "grafana_url": None,
    "api_key": None,
    "api_token": None,
    "report_dir": Path("reports"),
    "request_timeout": 10.0,
    "skillmeat_version": "0.74.0",
    "writes": True,
    "gate_window": None,
    "gate_overrides": None,
    "load_users": "10",
    "load_duration": None,
    "load_spawn_rate": None,
    "load_workers": "0",
    "contract_profile": "auto",
    "contract_examples": None,
    "contract_seed": 0,
    "contract_schema": None,
    "soak": 0.0,
    "auth_expected": "auto",
    "stable_url": None,
    "canary_url": None,
    "stable_selector": 'role="stable"',
    "canary_selector": 'role="canary"',
}

# The Settings attribute an option lands in, where it differs from the option's name.
ATTRIBUTE = {"writes": "writes_allowed", "gate_window": "gate_window_s"}


def value_of(settings: Settings, name: str) -> Any:
    if name.startswith("load_"):
        return settings.load.get(str(SPEC[name].env))
    return getattr(settings, ATTRIBUTE.get(name, name))


def converted(name: str, raw: str) -> Any:
    if name.endswith("_url"):
        return raw.rstrip("/")
    if name == "phase":
        return {"phase3": Phase.PHASE3, "2": Phase.PHASE2, "Phase4": Phase.PHASE4}[raw]
    if name == "report_dir":
        return Path(raw)
    if name == "request_timeout":
        return float(raw)
    if name == "writes":
        return raw.strip().lower() == "allow"
    if name in ("gate_window", "soak"):
        return {"5m": 300.0, "4h": 14400.0, "90": 90.0, "1h30m": 5400.0}[raw]
    if name == "gate_overrides":
        return Path(raw)
    if name in ("contract_profile", "auth_expected"):
        return raw.strip().lower()
    if name in ("contract_examples", "contract_seed"):
        return int(raw)
    return raw


def layers(name: str, *, cli: bool, env: bool, ini: bool) -> tuple[dict[str, Any], ...]:
    spec = SPEC[name]
    cli_value, env_value, ini_value = LAYERS[name]
    assert spec.env is not None
    return (
        {name: cli_value} if cli else {},
        {spec.env: env_value} if env else {},
        {name: ini_value} if ini else {},
    )


def test_every_option_is_covered() -> None:
    assert set(LAYERS) == set(SPEC) == set(DEFAULTS)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_command_line_beats_env_and_ini(name: str) -> None:
    settings = resolve(*layers(name, cli=True, env=True, ini=True))
    assert value_of(settings, name) == converted(name, LAYERS[name][0])
    assert settings.sources[name] == f"command line {SPEC[name].flag}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_env_beats_ini(name: str) -> None:
    settings = resolve(*layers(name, cli=False, env=True, ini=True))
    assert value_of(settings, name) == converted(name, LAYERS[name][1])
    assert settings.sources[name] == f"environment {SPEC[name].env}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_ini_beats_default(name: str) -> None:
    settings = resolve(*layers(name, cli=False, env=False, ini=True))
    assert value_of(settings, name) == converted(name, LAYERS[name][2])
    assert settings.sources[name] == f"ini phasegate_{name}"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_default_when_nothing_is_given(name: str) -> None:
    settings = resolve({}, {}, {})
    assert value_of(settings, name) == DEFAULTS[name]
    assert settings.sources[name] == "default"


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_empty_env_and_ini_values_count_as_unset(name: str) -> None:
    spec = SPEC[name]
    assert spec.env is not None
    settings = resolve({name: None}, {spec.env: ""}, {name: ""})
    assert value_of(settings, name) == DEFAULTS[name]
    assert settings.sources[name] == "default"


def test_no_api_url_means_the_embedded_stack() -> None:
    assert resolve({}, {}, {}).embedded is True
    assert resolve({"api_url": "http://h"}, {}, {}).embedded is False


def test_url_is_stripped_of_spaces_and_trailing_slash() -> None:
    settings = resolve({"api_url": "  https://sm.example/api/  "}, {}, {})
    assert settings.api_url == "https://sm.example/api"


# -- invalid values ------------------------------------------------------------------------------

BAD_VALUES: list[tuple[str, str, str]] = [
    ("load_users", "many", "whole number"),
    ("load_users", "0", "whole number"),
    ("load_duration", "forever", "duration"),
    ("load_workers", "65", "whole number"),
    ("gate_window", "soon", "expected a duration"),
    ("gate_window", "0s", "expected a duration"),
    ("gate_window", "365d", "between 1 s and 90 days"),
    ("gate_overrides", "/nonexistent/overrides.toml", "no such file"),
    ("api_url", "ftp://x", "http:// or https:// URL"),
    ("api_url", "nonsense", "http:// or https:// URL"),
    ("api_url", "http://", "http:// or https:// URL"),
    ("api_url", "http://h.example/?debug=1", "without query or fragment"),
    ("api_url", "http://h.example/#top", "without query or fragment"),
    ("prometheus_url", "prometheus:9090", "http:// or https:// URL"),
    ("alertmanager_url", "file:///etc/passwd", "http:// or https:// URL"),
    ("grafana_url", "://grafana", "http:// or https:// URL"),
    ("api_version", "1", "version segment"),
    ("api_version", "V1", "version segment"),
    ("api_version", "v1.2", "version segment"),
    ("phase", "phase9", "phase1, phase2, phase3 or phase4"),
    ("phase", "0", "phase1, phase2, phase3 or phase4"),
    ("phase", "canary", "phase1, phase2, phase3 or phase4"),
    ("request_timeout", "abc", "positive number of seconds"),
    ("request_timeout", "0", "positive number of seconds"),
    ("request_timeout", "-1", "positive number of seconds"),
    ("request_timeout", "600.5", "positive number of seconds"),
    ("request_timeout", "nan", "positive number of seconds"),
    ("request_timeout", "inf", "positive number of seconds"),
    ("skillmeat_version", "latest", "release such as 0.74.0"),
    ("skillmeat_version", "0.74.0; rm -rf /", "release such as 0.74.0"),
    ("writes", "yes", "expected allow or deny"),
    ("writes", "read-only", "expected allow or deny"),
    ("contract_profile", "aggressive", "expected auto, full or safe"),
    ("contract_examples", "0", "whole number of examples"),
    ("contract_examples", "501", "whole number of examples"),
    ("contract_examples", "many", "whole number of examples"),
    ("contract_seed", "-1", "whole number"),
    ("contract_seed", "0x10", "whole number"),
    ("auth_expected", "maybe", "expected auto, yes or no"),
    ("auth_expected", "true", "expected auto, yes or no"),
]


def _given(layer: str, name: str, value: str) -> tuple[dict[str, Any], ...]:
    env_name = SPEC[name].env
    assert env_name is not None
    return {
        "cli": ({name: value}, {}, {}),
        "env": ({}, {env_name: value}, {}),
        "ini": ({}, {}, {name: value}),
    }[layer]


def _source(layer: str, name: str) -> str:
    return {
        "cli": f"command line {SPEC[name].flag}",
        "env": f"environment {SPEC[name].env}",
        "ini": f"ini phasegate_{name}",
    }[layer]


@pytest.mark.parametrize("layer", ["cli", "env", "ini"])
@pytest.mark.parametrize(("name", "value", "expected"), BAD_VALUES)
def test_invalid_value_names_flag_value_and_source(
    layer: str, name: str, value: str, expected: str
) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(*_given(layer, name, value))
    message = str(caught.value)
    assert message.startswith(f"{SPEC[name].flag}: invalid value {value!r}")
    assert f"(from {_source(layer, name)})" in message
    assert expected in message


def test_a_bad_value_on_a_lower_layer_is_ignored_when_a_higher_one_is_good() -> None:
    settings = resolve({"request_timeout": "2"}, {"PHASEGATE_REQUEST_TIMEOUT": "abc"}, {})
    assert settings.request_timeout == 2.0


def test_timeout_boundaries() -> None:
    assert resolve({"request_timeout": "600"}, {}, {}).request_timeout == 600.0
    assert resolve({"request_timeout": "0.001"}, {}, {}).request_timeout == 0.001


def test_secret_values_are_never_shown_in_errors() -> None:
    error = _bad(SPEC["api_key"], "hunter2-secret", "environment SKILLMEAT_API_KEY", "whatever")
    message = str(error)
    assert "hunter2-secret" not in message
    assert "***" in message
    assert message.startswith("--api-key: invalid value ***")
    assert "(from environment SKILLMEAT_API_KEY)" in message


def test_public_settings_only_say_whether_secrets_are_set() -> None:
    settings = resolve(
        {"api_key": "k-123456"}, {"SKILLMEAT_API_TOKEN": "t-abcdef"}, {"phase": "phase2"}
    )
    shown = settings.public()
    assert shown["api_key"] == "set"
    assert shown["api_token"] == "set"
    assert "k-123456" not in repr(shown)
    assert "t-abcdef" not in repr(shown)
    assert shown["phase"] == "phase2"
    assert shown["report_dir"] == "reports"
    assert shown["writes"] == "allow"
    assert resolve({"writes": "deny"}, {}, {}).public()["writes"] == "deny"
    assert resolve({}, {}, {}).public()["api_key"] == "not set"


# -- the phase and -m ----------------------------------------------------------------------------


def test_phase_from_marks_is_used_without_phase_option() -> None:
    assert resolve({}, {}, {}, Phase.PHASE2).phase is Phase.PHASE2


def test_phase_option_agreeing_with_marks_is_fine() -> None:
    assert resolve({"phase": "phase2"}, {}, {}, Phase.PHASE2).phase is Phase.PHASE2


@pytest.mark.parametrize("layer", ["cli", "env", "ini"])
def test_phase_option_contradicting_marks_is_an_error(layer: str) -> None:
    with pytest.raises(SettingsError) as caught:
        resolve(*_given(layer, "phase", "phase1"), phase_from_marks=Phase.PHASE2)
    message = str(caught.value)
    assert message.startswith("--phase: phase1")
    assert f"(from {_source(layer, 'phase')})" in message
    assert "contradicts -m, which selects phase2" in message


def test_settings_are_frozen() -> None:
    settings: Settings = resolve({}, {}, {})
    with pytest.raises(AttributeError):
        settings.api_url = "http://elsewhere"  # type: ignore[misc]
