"""One duration grammar: every duration option and catalog key accepts the same forms.

`phasegate.durations.parse_duration` is the only reader of durations. These tests pin its
grammar, round-trip it against `format_duration`, and prove that --gate-window, --load-duration
and the catalog's keys accept the same spellings and refuse bad ones with the same message; each
keeps only its own range.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phasegate.durations import FORMS, format_duration, parse_duration
from phasegate.gates.spec import CatalogError, load_catalog
from phasegate.load.config import LoadSettingsError, load_settings
from phasegate.settings import SettingsError, resolve

# Spellings every option must read; each within every option's range (5 s .. 60 min for load).
SPELLINGS = {
    "45": 45.0,
    "45s": 45.0,
    "45S": 45.0,
    " 45s ": 45.0,
    "2.5m": 150.0,
    "1h": 3600.0,
    "0.5h": 1800.0,
    "0.025d": 2160.0,
    "1m30s": 90.0,
    "1h0m": 3600.0,
    "600000ms": 600.0,
}
# Spellings in range for the gate window and the catalog, too long for a load run.
LONG = {"90m": 5400.0, "4h": 14400.0, "2d": 172800.0, "1w": 604800.0, "1h30m": 5400.0}
NOT_DURATIONS = ("", "soon", "m", "-5m", "5 s", "1h 30m", "0s", "0", "1e3", "5 minutes", "h1")


def gate_window(text: str) -> float:
    value = resolve({"gate_window": text}, {}, {}).gate_window_s
    assert value is not None
    return value


def soak(text: str) -> float:
    return resolve({"soak": text}, {}, {}).soak


def soak_env(text: str) -> float:
    return resolve({}, {"PHASEGATE_SOAK": text}, {}).soak


def load_duration(text: str) -> float:
    return float(load_settings(resolve({"load_duration": text}, {}, {}).load).duration_s)


def load_env(text: str) -> float:
    return float(load_settings({"PHASEGATE_LOAD_DURATION": text}).duration_s)


def catalog_key(key: str) -> Callable[[str], float]:
    field = {"window": "window_s", "sub_window": "sub_window_s"}.get(key, f"{key}_s")

    def read(text: str) -> float:
        catalog = load_catalog().with_overrides({"error-rate": {key: text}}, "test overrides")
        value = getattr(catalog.get("error-rate"), field)
        assert value is not None
        return float(value)

    return read


READERS: dict[str, Callable[[str], float]] = {
    "--gate-window": gate_window,
    "--load-duration": load_duration,
    "PHASEGATE_LOAD_DURATION": load_env,
    "--soak": soak,
    "PHASEGATE_SOAK": soak_env,
    "catalog window": catalog_key("window"),
    "catalog sub_window": catalog_key("sub_window"),
    "catalog min_span": catalog_key("min_span"),
    "catalog sustain": catalog_key("sustain"),
}
ERRORS = (SettingsError, LoadSettingsError, CatalogError)


@pytest.mark.parametrize("text", [*SPELLINGS, *LONG])
def test_the_grammar(text: str) -> None:
    assert parse_duration(text) == {**SPELLINGS, **LONG}[text]


@pytest.mark.parametrize("text", NOT_DURATIONS)
def test_one_error_message(text: str) -> None:
    with pytest.raises(ValueError, match=r"^not a duration: ") as caught:
        parse_duration(text)
    assert str(caught.value) == f"not a duration: {text!r}; use e.g. {FORMS}"


@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
@pytest.mark.parametrize("text", SPELLINGS)
def test_every_duration_option_accepts_every_spelling(reader: str, text: str) -> None:
    assert READERS[reader](text) == SPELLINGS[text]


LOAD_READERS = ("--load-duration", "PHASEGATE_LOAD_DURATION")


@pytest.mark.parametrize("reader", [r for r in READERS if r not in LOAD_READERS])
@pytest.mark.parametrize("text", LONG)
def test_a_long_duration_is_read_where_it_fits(reader: str, text: str) -> None:
    assert READERS[reader](text) == LONG[text]


@pytest.mark.parametrize("reader", LOAD_READERS)
@pytest.mark.parametrize("text", LONG)
def test_a_load_run_too_long_is_refused_for_its_length(reader: str, text: str) -> None:
    """Out of the load run's range is a range error, never a 'not a duration'."""
    with pytest.raises(ERRORS, match="expected whole seconds from 5s to 60m") as caught:
        READERS[reader](text)
    assert "not a duration" not in str(caught.value)


@pytest.mark.parametrize("reader", READERS, ids=list(READERS))
@pytest.mark.parametrize("text", [t for t in NOT_DURATIONS if t.strip() and t != "0"])
def test_every_duration_option_refuses_with_the_one_message(reader: str, text: str) -> None:
    with pytest.raises(ERRORS) as caught:
        READERS[reader](text)
    assert f"not a duration: {text!r}; use e.g. {FORMS}" in str(caught.value)


def test_no_soak_is_0_and_the_default() -> None:
    assert soak("0") == soak_env("0") == resolve({}, {}, {}).soak == 0.0
    with pytest.raises(SettingsError, match=r"--soak: invalid value '2w'.*at most 1 week"):
        soak("2w")


@given(st.integers(min_value=1, max_value=10**9))
def test_whole_seconds_round_trip(seconds: int) -> None:
    text = format_duration(seconds)
    assert parse_duration(text) == seconds
    assert format_duration(parse_duration(text)) == text


@given(
    st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(["ms", "s", "m", "h", "d", "w"])),
        min_size=1,
        max_size=6,
    ).filter(lambda parts: any(n for n, _ in parts)),
    st.booleans(),
)
def test_any_sequence_of_parts_adds_up(parts: list[tuple[int, str]], upper: bool) -> None:
    size = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = "".join(f"{n}{unit}" for n, unit in parts)
    expected = sum(n * size[unit] for n, unit in parts)
    assert parse_duration(text.upper() if upper else text) == pytest.approx(expected)
