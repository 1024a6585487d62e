"""SkillMeat's own cached virtual environment.

SkillMeat pins about 90 packages; installing it beside the suite would let its pins fight ours,
so it gets a venv of its own, built once per release and reused by every later run.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from phasegate.progress import Progress

_READY_STAMP = ".phasegate-ready"


def cache_root() -> Path:
    explicit = os.environ.get("PHASEGATE_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "phasegate"


def venv_dir(version: str) -> Path:
    tag = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache_root() / f"skillmeat-{version}-{tag}"


class InstallError(RuntimeError):
    pass


def ensure_skillmeat(version: str, progress: Progress = print) -> Path:
    """Return the venv's python, installing SkillMeat `version` there first if it is missing.

    A stamp written after a successful install marks the venv usable; a lock keeps two runs from
    installing into the same folder at once.
    """
    target = venv_dir(version)
    python = target / "bin" / "python"
    if (target / _READY_STAMP).exists() and python.exists():
        return python
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f".{target.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / _READY_STAMP).exists() and python.exists():
            return python
        progress(f"installing SkillMeat {version} into {target} (first run only, about a minute)")
        steps = [
            [sys.executable, "-m", "venv", "--clear", str(target)],
            [
                str(python),
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"skillmeat=={version}",
            ],
        ]
        for argv in steps:
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise InstallError(
                    f"{' '.join(argv[:4])} ... failed ({done.returncode}):\n{done.stderr[-2000:]}"
                )
        (target / _READY_STAMP).write_text(version + "\n")
        progress(f"SkillMeat {version} installed")
    return python
