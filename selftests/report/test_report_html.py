"""`make report`: Allure results rendered offline, as a reader's browser would show them.

A tiny synthetic suite (one passing check, one failing) runs with `--alluredir`; its results get
the verdict's environment.properties and executor.json, are rendered both ways (multi-file,
served over HTTP on 127.0.0.1; single-file, opened from disk), and each is loaded in headless
Chromium. The checks read the drawn text only (scripts stripped): the single-file report inlines
its data, so the raw page would "contain" every title whether the app drew it or not.

Chromium and the Allure CLI are requirements of `make test`, not options: when missing the tests
fail and say how to install them.
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from phasegate import report_html
from support import chromium

PASSING_TITLE = "Contract GET /memory-items"
FAILING_TITLE = "Smoke POST /context-packs"
ABSENT_TITLE = "Contract DELETE /never-ran"
DECISION = "NO_GO"
BUILD_NAME = "phase2 gate NO_GO"

SUITE = f'''
import allure


@allure.title("{PASSING_TITLE}")
def test_lists_memory_items():
    pass


@allure.title("{FAILING_TITLE}")
def test_creates_context_pack():
    assert 200 == 500, "context pack create answered 500"
'''

ENVIRONMENT = textwrap.dedent(
    f"""\
    Decision={DECISION}
    Reasons=smoke.context-pack.create failed (blocking)
    Phase=phase2
    Contract\\ profile=strict
    """
)
EXECUTOR = (
    '{"name": "phasegate", "type": "phasegate", '
    f'"buildName": "{BUILD_NAME}", "reportName": "phasegate phase2"}}'
)

INSTALL_HINT = "run `make system allure-cli` (as root) to install chromium, Java and the Allure CLI"

Dom = Callable[[str, str], str]


@pytest.fixture(scope="module")
def tools() -> None:
    try:
        report_html.locate_allure()
        chromium.locate_chromium()
    except report_html.ReportError as error:
        pytest.fail(f"{error}\n{INSTALL_HINT}", pytrace=False)


@pytest.fixture(scope="module")
def allure_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results of the synthetic suite, plus what the plugin writes for the Overview page."""
    base = tmp_path_factory.mktemp("synthetic")
    (base / "test_synthetic.py").write_text(SUITE)
    results = base / "allure-results"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:phasegate",
            "-p",
            "no:locust",
            "-p",
            "no:cacheprovider",
            f"--alluredir={results}",
            "-q",
            "test_synthetic.py",
        ],
        cwd=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 1, f"synthetic suite should fail once:\n{run.stdout}\n{run.stderr}"
    assert "1 failed, 1 passed" in run.stdout, run.stdout
    (results / "environment.properties").write_text(ENVIRONMENT)
    (results / "executor.json").write_text(EXECUTOR)
    return results


@pytest.fixture(scope="module")
def reports(
    tools: None, allure_results: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Both variants rendered once: variant -> folder holding index.html."""
    out = tmp_path_factory.mktemp("rendered")
    rendered: dict[str, Path] = {}
    for variant, single in (("multi", False), ("single", True)):
        started = time.monotonic()
        index = report_html.render(allure_results, out / variant, single_file=single, timeout=180)
        print(f"render {variant}: {time.monotonic() - started:.2f}s")
        rendered[variant] = index.parent
    return rendered


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def multi_url(reports: dict[str, Path]) -> Iterator[str]:
    """The multi-file report over HTTP (file:// blocks its XHRs), loopback only, free port."""
    handler = functools.partial(_QuietHandler, directory=str(reports["multi"]))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
        finally:
            server.shutdown()
            thread.join(timeout=10)


@pytest.fixture(scope="module")
def dom(reports: dict[str, Path], multi_url: str) -> Dom:
    """(variant, route) -> visible text of the rendered page; each page is loaded once."""
    urls = {"multi": multi_url, "single": (reports["single"] / "index.html").as_uri()}
    cache: dict[tuple[str, str], str] = {}

    def load(variant: str, route: str) -> str:
        key = (variant, route)
        if key not in cache:
            started = time.monotonic()
            page = chromium.rendered_dom(urls[variant] + route, timeout=90)
            print(f"chromium dump {variant}{route or ' /'}: {time.monotonic() - started:.2f}s")
            cache[key] = page
        return cache[key]

    return load


def status_counts(page: str) -> dict[str, int]:
    """The tree's status filter (failed, broken, passed, skipped, unknown) as numbers."""
    found = re.findall(r'data-status="(\w+)"[^>]*>\s*(\d+)\s*<', page)
    return {status: int(count) for status, count in found}


VARIANTS = pytest.mark.parametrize("variant", ["multi", "single"])


@VARIANTS
def test_behaviors_lists_the_runs_titles_and_counts(dom: Dom, variant: str) -> None:
    """#behaviors draws every test by its allure title (#suites only shows collapsed groups)."""
    page = dom(variant, "#behaviors")
    text = chromium.visible_text(page)
    assert PASSING_TITLE in text, text[:2000]
    assert FAILING_TITLE in text, text[:2000]
    counts = status_counts(page)
    assert counts.get("failed") == 1, counts
    assert counts.get("passed") == 1, counts


@VARIANTS
def test_a_title_outside_the_run_is_not_shown(dom: Dom, variant: str) -> None:
    """The same page, so the title check above can fail: drawn text only, not the data."""
    text = chromium.visible_text(dom(variant, "#behaviors"))
    assert PASSING_TITLE in text, "page did not render; the negative check would prove nothing"
    assert ABSENT_TITLE not in text
    assert "Contract GET /memory-items-v2" not in text


@VARIANTS
def test_overview_shows_the_verdict(dom: Dom, variant: str) -> None:
    """Overview (root route): 2 cases, the Environment widget with the decision, the executor."""
    text = chromium.visible_text(dom(variant, ""))
    assert "2 test cases" in text, text[:2000]
    environment = re.search(r"Environment (.*?) Features by stories", text)
    assert environment, f"no Environment widget on the overview: {text[:2000]}"
    assert f"Decision {DECISION}" in environment.group(1), environment.group(1)
    assert "Contract profile strict" in environment.group(1), environment.group(1)
    executors = re.search(r"Executors (.*)$", text)
    assert executors, f"no Executors widget on the overview: {text[:2000]}"
    assert BUILD_NAME in executors.group(1), executors.group(1)
    assert "There is no information about tests executors" not in text


def test_render_without_results_says_what_to_run(tmp_path: Path) -> None:
    empty = tmp_path / "allure-results"
    empty.mkdir()
    with pytest.raises(report_html.ReportError, match=r"run make gate PHASE=\.\.\. first"):
        report_html.render(empty, tmp_path / "out", single_file=False)


def test_visible_text_ignores_scripts() -> None:
    page = "<html><head><title>x</title></head><body><p>a <b>b</b></p>"
    page += f'<script>var d = "{ABSENT_TITLE}";</script><style>p{{}}</style></body></html>'
    assert chromium.visible_text(page) == "a b"
