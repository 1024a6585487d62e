"""Offline HTML rendering of the Allure results a gate run writes (`make report`).

The Allure 2 command line (npm package `allure-commandline`, pinned in `tools/allure/`, installed
by `make allure-cli`) turns `reports/allure-results` into a multi-file report (needs HTTP to open:
its pages load their data by XHR, which file:// blocks) and a single-file one (one `index.html`
with the data inlined, opens from disk). `rendered_dom` loads either in headless Chromium and
returns the DOM after the single-page app has drawn itself, which is how the self-test checks
what a reader would see.

Nothing here imports pytest.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

__all__ = [
    "CHROMIUM_FLAGS",
    "ReportError",
    "locate_allure",
    "locate_chromium",
    "main",
    "render",
    "rendered_dom",
    "visible_text",
]

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LOCAL_ALLURE = Path("tools", "allure", "node_modules", ".bin", "allure")

# Headless flags that keep Chromium from reaching out: on a closed network the background
# requests (component updates, sync, QUIC probes) make it hang instead of exiting.
CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Containers often have a small /dev/shm; Debian's launcher fails to detect that.
    "--disable-dev-shm-usage",
)


class ReportError(Exception):
    """Rendering or loading a report failed; the message says what to do."""


@dataclass(frozen=True)
class _Finished:
    returncode: int
    stdout: str
    stderr: str


def _run(command: Sequence[str], timeout: float, env: Mapping[str, str] | None = None) -> _Finished:
    """Run a command in its own process group; on timeout the whole group is killed.

    Both tools fork (the allure script starts java, chromium its zygote and renderers), so
    killing only the direct child would leave the rest running.
    """
    with subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=None if env is None else dict(env),
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise
        finally:
            if process.poll() is None:
                _kill_group(process)
        # Chromium leaves helpers behind for a moment after the browser process exits.
        _kill_group(process)
    return _Finished(process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def locate_allure(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Allure CLI: `explicit`, $PHASEGATE_ALLURE, the project-local install, or PATH."""
    given = explicit if explicit is not None else os.environ.get("PHASEGATE_ALLURE")
    if given:
        path = Path(given)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ReportError(f"allure CLI {path} is not an executable file")
    for root in (_PROJECT_ROOT, Path.cwd()):
        candidate = root / _LOCAL_ALLURE
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("allure")
    if on_path:
        return Path(on_path)
    raise ReportError(
        f"allure CLI not found (looked for {_PROJECT_ROOT / _LOCAL_ALLURE} and `allure` on PATH):"
        " run `make allure-cli` (needs npm; Java via `make system`)"
    )


def locate_chromium(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Chromium: `explicit`, $PHASEGATE_CHROMIUM, or chromium / chromium-browser on PATH."""
    given = explicit if explicit is not None else os.environ.get("PHASEGATE_CHROMIUM")
    if given:
        path = Path(given)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise ReportError(f"chromium {path} is not an executable file")
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ReportError("chromium not found on PATH: run `make system` as root (Debian `chromium`)")


def _has_results(results_dir: Path) -> bool:
    return any(results_dir.glob("*-result.json"))


def render(
    results_dir: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    single_file: bool,
    *,
    allure: str | os.PathLike[str] | None = None,
    timeout: float = 300.0,
) -> Path:
    """Render Allure results into `out_dir` (replaced); returns the report's `index.html`.

    `single_file` gives one self-contained `index.html` (opens from disk); otherwise the usual
    multi-file report, which needs an HTTP server to open.
    """
    results = Path(results_dir)
    out = Path(out_dir)
    if not results.is_dir() or not _has_results(results):
        raise ReportError(
            f"{results} holds no Allure results (*-result.json): run make gate PHASE=... first"
        )
    command = [str(locate_allure(allure)), "generate", "--clean"]
    if single_file:
        command.append("--single-file")
    command += ["-o", str(out), str(results)]
    env = {**os.environ, "ALLURE_NO_ANALYTICS": "true"}
    try:
        finished = _run(command, timeout, env)
    except subprocess.TimeoutExpired:
        raise ReportError(f"allure generate did not finish in {timeout:g}s: {command}") from None
    except OSError as error:
        raise ReportError(f"cannot run allure: {error}: run `make allure-cli`") from error
    index = out / "index.html"
    if finished.returncode != 0 or not index.is_file():
        hint = ""
        if "java" in finished.stderr.lower() and "not found" in finished.stderr.lower():
            hint = " (no Java runtime: run `make system` as root)"
        raise ReportError(
            f"allure generate exited {finished.returncode}{hint}; {index} "
            f"{'exists' if index.is_file() else 'missing'}\n"
            f"{_tail(finished.stderr or finished.stdout)}"
        )
    return index


def rendered_dom(
    url: str,
    timeout: float = 60.0,
    *,
    chromium: str | os.PathLike[str] | None = None,
    virtual_time_budget_ms: int = 15000,
) -> str:
    """The DOM of `url` after headless Chromium has run its scripts (`--dump-dom`).

    Each call uses a fresh, throw-away profile, so nothing carries over between calls.
    """
    browser = locate_chromium(chromium)
    with tempfile.TemporaryDirectory(prefix="phasegate-chromium-") as profile:
        command = [
            str(browser),
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--dump-dom",
            f"--virtual-time-budget={virtual_time_budget_ms}",
            url,
        ]
        try:
            finished = _run(command, timeout)
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not dump {url} within {timeout:g}s") from None
        except OSError as error:
            raise ReportError(f"cannot run chromium: {error}: run `make system`") from error
    if finished.returncode != 0 or "<html" not in finished.stdout.lower():
        raise ReportError(
            f"chromium exited {finished.returncode} on {url} with no DOM\n{_tail(finished.stderr)}"
        )
    return finished.stdout


class _TextExtractor(HTMLParser):
    _HIDDEN = frozenset({"script", "style", "template", "noscript", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self._hidden_depth:
            self._hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self.parts.append(data)


def visible_text(dom: str) -> str:
    """The DOM's text outside scripts and styles, whitespace collapsed to single spaces.

    The single-file report inlines its data in a script, so a plain substring test on the DOM
    would find every title whether the page drew it or not.
    """
    parser = _TextExtractor()
    parser.feed(dom)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m phasegate.report_html",
        description="Render Allure results into a multi-file and a single-file HTML report.",
    )
    parser.add_argument("results_dir", type=Path, help="Allure results (pytest --alluredir)")
    parser.add_argument("out_dir", type=Path, help="multi-file report folder (replaced)")
    parser.add_argument(
        "--single-dir",
        type=Path,
        default=None,
        help="single-file report folder (default: OUT_DIR-single; replaced)",
    )
    parser.add_argument("--no-single", action="store_true", help="skip the single-file report")
    parser.add_argument("--allure", default=None, help="allure CLI (default: project-local)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per rendering")
    args = parser.parse_args(argv)
    single_dir: Path = args.single_dir or args.out_dir.with_name(args.out_dir.name + "-single")
    jobs: list[tuple[Path, bool]] = [(args.out_dir, False)]
    if not args.no_single:
        jobs.append((single_dir, True))
    try:
        for out, single in jobs:
            started = time.monotonic()
            index = render(args.results_dir, out, single, allure=args.allure, timeout=args.timeout)
            kind = "single-file" if single else "multi-file"
            print(f"{kind} report: {index} ({time.monotonic() - started:.1f}s)")
    except ReportError as error:
        print(f"phasegate.report_html: {error}", file=sys.stderr)
        return 2
    if not args.no_single:
        print(f"open {single_dir / 'index.html'} directly; serve {args.out_dir} over HTTP")
    return 0


if __name__ == "__main__":
    sys.exit(main())
