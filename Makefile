# The two commands of the README's quick start: `make gate PHASE=phaseN` and `make test`.
# Each installs only what is missing, so a second run starts at once.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PHASE  ?= phase2
PYTEST_ARGS ?=

DRILL  ?= all

.PHONY: drill gate test lint type selftest system skillmeat venv clean report allure-cli

gate: venv system skillmeat
	$(BIN)/pytest -m $(PHASE) $(PYTEST_ARGS)

test: venv system skillmeat allure-cli lint type selftest

# The plan's emergency procedures as timed drills on the embedded SkillMeat (DRILL=disable,
# rollback, recover or all); the verdict lands in reports/verdict-drill.json.
drill: venv skillmeat
	$(BIN)/phasegate drill $(DRILL) --report-dir $(REPORT_DIR)

selftest: venv system allure-cli
	$(BIN)/pytest selftests -p no:cacheprovider --durations=25 $(PYTEST_ARGS)

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

# Debian packages of the real monitoring stack, the canary proxy, headless Chromium (report
# self-test), Java and npm (the Allure CLI); only as root, only when missing.
system:
	@if command -v prometheus >/dev/null && command -v prometheus-alertmanager >/dev/null \
	    && command -v nginx >/dev/null && command -v chromium >/dev/null \
	    && command -v java >/dev/null && command -v npm >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
	    echo "installing prometheus, prometheus-alertmanager, nginx-light, chromium, default-jre-headless, npm (apt, missing ones only)"; \
	    pkgs=""; \
	    command -v prometheus >/dev/null || pkgs="$$pkgs prometheus"; \
	    command -v prometheus-alertmanager >/dev/null || pkgs="$$pkgs prometheus-alertmanager"; \
	    command -v nginx >/dev/null || pkgs="$$pkgs nginx-light"; \
	    command -v chromium >/dev/null || pkgs="$$pkgs chromium"; \
	    command -v java >/dev/null || pkgs="$$pkgs default-jre-headless"; \
	    command -v npm >/dev/null || pkgs="$$pkgs npm"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	        $$pkgs >/dev/null; \
	else echo "note: not root; install prometheus, prometheus-alertmanager, nginx, chromium, java and npm yourself"; fi

# The Allure 2 command line, project-local: npm allure-commandline, exact pin + lock in tools/allure/
ALLURE_CLI := tools/allure/node_modules/.bin/allure
allure-cli:
	@test -x $(ALLURE_CLI) || { command -v npm >/dev/null \
	    || { echo "npm not found: install Node.js/npm (make system does, as root)" >&2; exit 1; }; \
	    echo "installing allure-commandline (npm ci, tools/allure)"; \
	    ALLURE_NO_ANALYTICS=true npm ci --prefix tools/allure --no-audit --no-fund; }

# Offline HTML of the last run's Allure results: multi-file (serve over HTTP) and single-file.
# REPORT_DIR: the run's --report-dir (default reports).
REPORT_DIR ?= reports
ALLURE_RESULTS := $(REPORT_DIR)/allure-results
report: venv allure-cli $(ALLURE_RESULTS)
	ALLURE_NO_ANALYTICS=true $(BIN)/python -m phasegate.report_html $(ALLURE_RESULTS) \
	    $(REPORT_DIR)/allure-report --single-dir $(REPORT_DIR)/allure-report-single

$(ALLURE_RESULTS):
	@echo "no $@ (Allure results): run make gate PHASE=... first" >&2; exit 1

# SkillMeat's own cached venv (pins of its own, never mixed with the suite's).
skillmeat: venv
	$(BIN)/phasegate install-skillmeat

clean:
	rm -rf reports/* $(VENV) .mypy_cache .ruff_cache .pytest_cache
	touch reports/.gitkeep
