"""Headless Chromium for the self-tests: what a reader's browser draws of a rendered report.

`rendered_dom` loads a page and returns the DOM after the single-page app has drawn itself;
`visible_text` strips it to the text a reader sees. `make report` itself never needs a browser,
so none of this lives in `src/`. Chromium runs through `report_html.run_in_group`, so its
zygote and renderers die with it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path

from phasegate.report_html import ReportError, named_executable, run_in_group, tail

__all__ = ["CHROMIUM_FLAGS", "locate_chromium", "rendered_dom", "visible_text"]

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


def locate_chromium(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Chromium: `explicit`, $PHASEGATE_CHROMIUM, or chromium / chromium-browser on PATH."""
    named = named_executable(explicit, "PHASEGATE_CHROMIUM", "chromium")
    if named is not None:
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ReportError("chromium not found on PATH: run `make system` as root (Debian `chromium`)")


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
            finished = run_in_group(command, timeout)
        except subprocess.TimeoutExpired:
            raise ReportError(f"chromium did not dump {url} within {timeout:g}s") from None
        except OSError as error:
            raise ReportError(f"cannot run chromium: {error}: run `make system`") from error
    if finished.returncode != 0 or "<html" not in finished.stdout.lower():
        raise ReportError(
            f"chromium exited {finished.returncode} on {url} with no DOM\n{tail(finished.stderr)}"
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
