"""Offline HTML rendering of the Allure results a gate run writes (`make report`).

The Allure 2 command line (npm package `allure-commandline`, pinned in `tools/allure/`, installed
by `make allure-cli`) turns `reports/allure-results` into a multi-file report (needs HTTP to open:
its pages load their data by XHR, which file:// blocks) and a single-file one (one `index.html`
with the data inlined, opens from disk). The self-tests load both in headless Chromium
(`selftests/support/chromium.py`) to check what a reader would see.

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
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "Finished",
    "ReportError",
    "locate_allure",
    "main",
    "named_executable",
    "render",
    "run_in_group",
    "tail",
]

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_LOCAL_ALLURE = Path("tools", "allure", "node_modules", ".bin", "allure")


class ReportError(Exception):
    """Rendering or loading a report failed; the message says what to do."""


@dataclass(frozen=True)
class Finished:
    """What a command run by `run_in_group` left: its exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


def run_in_group(
    command: Sequence[str], timeout: float, env: Mapping[str, str] | None = None
) -> Finished:
    """Run a command in its own process group; on timeout the whole group is killed.

    Both tools that run through here fork (the allure script starts java; the self-tests'
    Chromium, `selftests/support/chromium.py`, its zygote and renderers), so killing only the
    direct child would leave the rest running.
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
    return Finished(process.returncode, stdout, stderr)


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def tail(text: str, lines: int = 15) -> str:
    """The last `lines` lines of a tool's output: where its error usually is."""
    return "\n".join(text.strip().splitlines()[-lines:])


def named_executable(
    explicit: str | os.PathLike[str] | None, env_var: str, what: str
) -> Path | None:
    """The tool a user named (`explicit`, else $`env_var`), or None when they named none.

    A named tool that is not an executable file is an error, never a reason to look elsewhere.
    """
    given = explicit if explicit is not None else os.environ.get(env_var)
    if not given:
        return None
    path = Path(given)
    if path.is_file() and os.access(path, os.X_OK):
        return path
    raise ReportError(f"{what} {path} is not an executable file")


def locate_allure(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The Allure CLI: `explicit`, $PHASEGATE_ALLURE, the project-local install, or PATH."""
    named = named_executable(explicit, "PHASEGATE_ALLURE", "allure CLI")
    if named is not None:
        return named
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
        finished = run_in_group(command, timeout, env)
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
            f"{tail(finished.stderr or finished.stdout)}"
        )
    return index


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
