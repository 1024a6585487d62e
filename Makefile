# The two commands of the README's quick start: `make gate PHASE=phaseN` and `make test`.
# Each installs only what is missing, so a second run starts at once.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PHASE  ?= phase2
PYTEST_ARGS ?=

.PHONY: gate test lint type selftest system skillmeat venv clean report

gate: venv system skillmeat
	$(BIN)/pytest -m $(PHASE) $(PYTEST_ARGS)

test: venv system skillmeat lint type selftest

selftest: venv
	$(BIN)/pytest selftests -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check src selftests tests bench conftest.py
	$(BIN)/ruff format --check src selftests tests bench conftest.py

type: venv
	$(BIN)/mypy

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# Debian packages of the real monitoring stack and the canary proxy; only as root, only when missing.
system:
	@if command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null \
	    && command -v nginx >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "installing prometheus, prometheus-alertmanager, nginx-light (apt)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        prometheus prometheus-alertmanager nginx-light >/dev/null; \
	else echo "note: not root; install prometheus, prometheus-alertmanager and nginx yourself"; fi

# SkillMeat's own cached venv (pins of its own, never mixed with the suite's).
skillmeat: venv
	$(BIN)/phasegate install-skillmeat

clean:
	rm -rf reports/* $(VENV) .mypy_cache .ruff_cache .pytest_cache
	touch reports/.gitkeep
