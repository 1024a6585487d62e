"""nginx on loopback as the plan's phase-3 balancer: a 9:1 weighted upstream, per run.

Everything nginx needs (its configuration, pid, logs, temporary files) lives in one folder of the
run, so no system configuration is read or touched and nothing is left behind but logs. Every
response carries `UPSTREAM_HEADER` naming the side that answered, so any client can attribute
what it saw to stable or canary without reading nginx's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from phasegate.progress import Progress
from phasegate.stack.ports import LOOPBACK, free_port
from phasegate.stack.process import ManagedProcess

UPSTREAM_HEADER = "X-Phasegate-Upstream"
UNATTRIBUTED = "unknown"  # nginx tried more than one side, or none answered
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")


class NginxError(RuntimeError):
    """nginx is missing, rejected its configuration, or did not start."""


def nginx_binary() -> Path:
    found = shutil.which("nginx") or next((c for c in NGINX_CANDIDATES if Path(c).exists()), None)
    if not found:
        raise NginxError("nginx is not installed (Debian package `nginx`; `make system`)")
    return Path(found)


@dataclass(frozen=True)
class Backend:
    role: str  # "stable" | "canary"
    url: str  # http://127.0.0.1:PORT
    weight: int

    @property
    def address(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port}"


def render_config(prefix: Path, port: int, backends: tuple[Backend, ...]) -> str:
    """The plan's `upstream skillmeat_api` with weights, plus the attribution header.

    Only the upstream block is the plan's; the rest makes nginx run unprivileged in `prefix`.
    """
    servers = "\n".join(f"        server {b.address} weight={b.weight};" for b in backends)
    roles = "\n".join(f'        "{b.address}" {b.role};' for b in backends)
    temp = {
        name: prefix / "temp" / name
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    temps = "\n".join(f"    {name}_temp_path {path};" for name, path in temp.items())
    return f"""# written by phasegate for one run; reloaded on rollback
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} notice;
events {{ worker_connections 256; }}
http {{
{temps}
    log_format split '$remote_addr [$time_iso8601] "$request" $status '
                     'upstream=$upstream_addr role=$phasegate_upstream rt=$upstream_response_time';
    access_log {prefix / "access.log"} split;
    map $upstream_addr $phasegate_upstream {{
        default {UNATTRIBUTED};
{roles}
    }}
    upstream skillmeat_api {{
{servers}
    }}
    server {{
        listen {LOOPBACK}:{port};
        client_max_body_size 20m;
        location / {{
            proxy_pass http://skillmeat_api;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            add_header {UPSTREAM_HEADER} $phasegate_upstream always;
        }}
    }}
}}
"""


class NginxSplit:
    """One nginx master in the foreground (`daemon off`), its folder inside the run's folder."""

    def __init__(
        self, prefix: Path, backends: tuple[Backend, ...], progress: Progress = print
    ) -> None:
        self.prefix = prefix
        self.backends = backends
        self.progress = progress
        self.port = 0
        self.process: ManagedProcess | None = None
        self.binary = nginx_binary()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def conf(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def log_path(self) -> Path:
        return self.prefix / "nginx.log"

    def weights(self) -> Mapping[str, int]:
        return {b.role: b.weight for b in self.backends}

    def _argv(self, *extra: str) -> list[str]:
        return [
            str(self.binary),
            "-p",
            str(self.prefix),
            "-e",
            str(self.prefix / "error.log"),
            "-c",
            str(self.conf),
            *extra,
        ]

    def _write(self) -> None:
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.prefix / "temp" / name).mkdir(parents=True, exist_ok=True)
        self.conf.write_text(render_config(self.prefix, self.port, self.backends))
        # What another process of the run needs to change the split (the rollback check).
        (self.prefix / "split.json").write_text(
            json.dumps(
                {
                    "port": self.port,
                    "backends": [[b.role, b.url, b.weight] for b in self.backends],
                }
            )
        )
        tested = subprocess.run(
            self._argv("-t", "-q"), capture_output=True, text=True, timeout=30, check=False
        )
        if tested.returncode != 0:
            raise NginxError(f"nginx -t rejected {self.conf}: {tested.stderr.strip()[-1500:]}")

    def start(self, ready_timeout_s: float = 20.0, port: int | None = None) -> str:
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self._write()
        self.process = ManagedProcess(
            "nginx", self._argv("-g", "daemon off;"), log_path=self.log_path, cwd=self.prefix
        )
        deadline = time.monotonic() + ready_timeout_s
        with httpx.Client(timeout=2.0) as http:
            while time.monotonic() < deadline:
                if self.process.exit_code() is not None:
                    raise NginxError(
                        f"nginx exited with {self.process.exit_code()}: "
                        f"{(self.prefix / 'error.log').read_text(errors='replace')[-1500:]}"
                    )
                try:
                    http.get(f"{self.url}/health")
                    self.progress(f"nginx: 9:1 split ready at {self.url} ({self.conf})")
                    return self.url
                except httpx.TransportError:
                    time.sleep(0.1)
        raise NginxError(f"nginx did not answer on {self.url} within {ready_timeout_s:.0f} s")

    @classmethod
    def attach(cls, prefix: Path, progress: Progress = print) -> NginxSplit:
        """The split another process of this run started, to reload it (never to stop it)."""
        data = json.loads((prefix / "split.json").read_text())
        split = cls(prefix, tuple(Backend(*b) for b in data["backends"]), progress)
        split.port = int(data["port"])
        return split

    def master_pid(self) -> int:
        try:
            return int((self.prefix / "nginx.pid").read_text().strip())
        except (OSError, ValueError) as exc:
            raise NginxError(f"no nginx master pid in {self.prefix}: {exc}") from None

    def workers(self) -> set[int]:
        """The master's worker processes now (Linux: /proc/PID/task/*/children)."""
        found: set[int] = set()
        for task in Path(f"/proc/{self.master_pid()}/task").glob("*"):
            with contextlib.suppress(OSError, ValueError):
                found.update(int(p) for p in (task / "children").read_text().split())
        return found

    def reload(self, backends: tuple[Backend, ...], timeout_s: float = 15.0) -> None:
        """Rewrite the upstream, reload (SIGHUP) and return once only new workers serve.

        nginx checks the new file first (`-t`), so a bad file raises and the old split stays.
        SIGHUP returns at once while old workers may still take requests with the old upstream;
        the rollback's next step (stopping the canary) must wait until they are gone, or those
        requests meet a stopped canary.
        """
        self.backends = backends
        self._write()
        old = self.workers()
        os.kill(self.master_pid(), signal.SIGHUP)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            now = self.workers()
            if now and not (now & old):
                return
            time.sleep(0.02)
        raise NginxError(
            f"nginx still runs old workers {sorted(old)} {timeout_s:.0f} s after reload"
        )

    def remove(self, role: str) -> None:
        """Take one side out of rotation (the plan's rollback: the canary) and reload."""
        self.reload(tuple(b for b in self.backends if b.role != role))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        # The logs stay for the reader; nginx's temporary folders are ours to remove.
        shutil.rmtree(self.prefix / "temp", ignore_errors=True)
