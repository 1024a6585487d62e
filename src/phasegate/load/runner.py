"""Run a `LoadPlan` as locust subprocesses, bounded by a hard timeout.

Each locust process runs in its own process group that dies with the caller (see
`phasegate.stack.process`). On the hard timeout the master gets SIGTERM first, which makes
locust stop its users, write its JSON and CSV, and exit; whatever is left after a grace period is
killed. A distributed run (plan.workers > 0) starts a master bound to 127.0.0.1 and N workers
on this machine.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from phasegate.load.command import (
    LoadPlan,
    locust_argv,
    locust_env,
    master_argv,
    worker_argv,
)
from phasegate.progress import Progress
from phasegate.stack.ports import free_port
from phasegate.stack.process import ManagedProcess


@dataclass(frozen=True)
class LocustRun:
    plan: LoadPlan
    argv: tuple[str, ...]
    returncode: int | None
    timed_out: bool
    started_at: float
    finished_at: float
    log_tail: str
    worker_argvs: tuple[tuple[str, ...], ...] = ()
    worker_returncodes: tuple[int | None, ...] = field(default_factory=tuple)

    @property
    def duration_s(self) -> float:
        return self.finished_at - self.started_at

    def to_dict(self) -> dict[str, object]:
        return {
            "argv": list(self.argv),
            "returncode": self.returncode,
            "timed_out": self.timed_out,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_s": round(self.duration_s, 1),
            "workers": len(self.worker_argvs),
            "worker_returncodes": list(self.worker_returncodes),
        }


def _clear(plan: LoadPlan) -> None:
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    for path in plan.artifacts.all_files():
        with contextlib.suppress(OSError):
            path.unlink()


def _wait(process: ManagedProcess, deadline: float, poll_s: float = 0.2) -> bool:
    """True when the process exited before the deadline."""
    while time.monotonic() < deadline:
        if process.exit_code() is not None:
            return True
        time.sleep(poll_s)
    return process.exit_code() is not None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_locust(
    plan: LoadPlan,
    *,
    env: Mapping[str, str] | None = None,
    timeout_s: float | None = None,
    progress: Progress | None = None,
) -> LocustRun:
    """Run the plan to its end (or its hard timeout) and return what happened.

    Earlier files of the same plan name in plan.out_dir are removed first, so a stale report can
    never be read as this run's.
    """
    say = progress or (lambda _message: None)
    _clear(plan)
    art = plan.artifacts
    process_env = locust_env(plan, env)
    limit = timeout_s if timeout_s is not None else plan.hard_timeout_s
    workers: list[ManagedProcess] = []
    worker_argvs: list[tuple[str, ...]] = []
    if plan.workers:
        port = free_port()
        argv = master_argv(plan, port)
    else:
        port = 0
        argv = locust_argv(plan)
    say(
        f"locust: {plan.users} users for {plan.run_time_s} s against {plan.host}"
        + (f" (master + {plan.workers} workers on 127.0.0.1:{port})" if plan.workers else "")
    )
    started_at = time.time()
    deadline = time.monotonic() + limit
    master = ManagedProcess("locust", argv, log_path=art.log, env=process_env, cwd=plan.out_dir)
    timed_out = False
    try:
        for index in range(plan.workers):
            command = worker_argv(plan, port)
            worker_argvs.append(tuple(command))
            workers.append(
                ManagedProcess(
                    f"locust-worker{index}",
                    command,
                    log_path=art.worker_log(index),
                    env=process_env,
                    cwd=plan.out_dir,
                )
            )
        if not _wait(master, deadline):
            timed_out = True
            say(f"locust: hard timeout after {limit:.0f} s; stopping it")
    finally:
        # SIGTERM lets locust write its reports; the group is killed after the grace period.
        master.stop(grace_s=20.0)
        for worker in workers:
            worker.stop(grace_s=10.0)
    finished_at = time.time()
    return LocustRun(
        plan=plan,
        argv=tuple(argv),
        returncode=master.exit_code(),
        timed_out=timed_out,
        started_at=started_at,
        finished_at=finished_at,
        log_tail=_tail(art.log),
        worker_argvs=tuple(worker_argvs),
        worker_returncodes=tuple(w.exit_code() for w in workers),
    )
