"""Bounded, realistic background traffic for the metric gates on the embedded stack.

The 0.1% error-rate gate needs about 3,000 requests before it can say PASS (rule of three), far
more than the smoke checks send. This generator sends a read-mostly mix of Memory & Context calls
from a few threads, each over a project of its own, varied so that no identical request repeats
often enough to trip SkillMeat's burst limiter, and counts what it saw on the client side (429s
apart) so the gates can be triangulated against the server's own metrics.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx

from phasegate.client import ClientConfig, RateLimited, SkillMeatClient
from phasegate.evidence import Exchange
from phasegate.pacing import Pacer
from phasegate.resources import Ledger, Registry, Resource

Progress = Callable[[str], None]
WORDS = (
    "cache", "timeout", "schema", "retry", "index", "migration", "token", "budget", "deploy",
    "rollback", "queue", "worker", "latency", "logging", "secret", "config", "branch", "review",
    "release", "canary", "metric", "alert", "pack", "module", "decision", "constraint", "gotcha",
    "style", "learning", "storage", "session", "anchor", "extract",
)  # fmt: skip
SLOW_S = 0.5


@dataclass
class Tally:
    """What the client saw: totals, server errors, 429s and slow answers, by status."""

    requests: int = 0
    server_errors: int = 0
    rate_limited: int = 0
    slow: int = 0
    transport_errors: int = 0
    started: float = 0.0
    finished: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, status: int | None, seconds: float) -> None:
        with self._lock:
            if status is None:
                self.transport_errors += 1
                return
            self.requests += 1
            self.by_status[status] += 1
            if status >= 500:
                self.server_errors += 1
            if status == 429:
                self.rate_limited += 1
            if seconds > SLOW_S:
                self.slow += 1

    def record(self, exchange: Exchange) -> None:
        """Every request the traffic's clients send (setup, traffic, cleanup) is counted once."""
        self.add(exchange.status, exchange.duration_ms / 1000)

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "server_errors": self.server_errors,
            "rate_limited": self.rate_limited,
            "slow_over_0.5s": self.slow,
            "transport_errors": self.transport_errors,
            "seconds": round(self.finished - self.started, 1),
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
        }


class _Worker:
    """One simulated user with a project of its own and a handful of items."""

    def __init__(self, index: int, api: SkillMeatClient, registry: Registry, prefix: str) -> None:
        self.index = index
        self.api = api
        self.registry = registry
        self.prefix = prefix
        self.project_id = ""
        self.items: list[str] = []
        self.step = 0

    def setup(self, projects_root: str, tally: Tally, pacer: Pacer | None = None) -> None:
        name = f"{self.prefix}-traffic-{self.index}"
        response = None
        for _ in range(2):  # one retry after the limiter's Retry-After
            if pacer is not None:
                pacer.wait_for_slot()
            response = self._send(
                tally,
                lambda: self.api.api(
                    "POST",
                    "/projects",
                    json={"name": name, "path": f"{projects_root}/{name}"},
                    allow_429=True,
                ),
            )
            if response is None or response.status_code != 429:
                break
            time.sleep(min(11.0, float(response.headers.get("Retry-After", "10") or 10)))
        if response is None or response.status_code != 201:
            raise RuntimeError(f"traffic: project create answered {_status(response)}")
        self.project_id = response.json()["id"]
        self.registry.add(Resource("project", self.project_id, name))
        for n in range(8):
            content = f"{name} {WORDS[(self.index * 7 + n) % len(WORDS)]} note {n}"
            body: dict[str, Any] = {
                "type": ("decision", "constraint", "gotcha", "style_rule", "learning")[n % 5],
                "content": content,
                "confidence": round(0.5 + n * 0.05, 2),
                "status": "active" if n % 3 else "candidate",
            }
            created = self._send(tally, partial(self.api.create_item, self.project_id, body))
            if created is not None and created.status_code == 201:
                item_id = created.json()["id"]
                self.items.append(item_id)
                self.registry.add(Resource("item", item_id, content, self.project_id))
            time.sleep(0.05)

    def one(self, tally: Tally) -> None:
        """One request; the shapes rotate so each exact request recurs rarely."""
        self.step += 1
        step, pid = self.step, self.project_id
        word = WORDS[step % len(WORDS)]
        item = self.items[step % len(self.items)] if self.items else None
        calls: list[Callable[[], httpx.Response]] = [
            lambda: self.api.list_items(pid, limit=1 + step % 100),
            lambda: self.api.count_items(pid, min_confidence=round((step % 100) / 100, 2)),
            lambda: self.api.search_items(word, project_id=pid, limit=1 + step % 50),
        ]
        if item is not None:
            calls.append(lambda: self.api.get_item(item))
            if step % 4 == 0:
                calls.append(
                    lambda: self.api.update_item(
                        item, {"confidence": round(0.5 + (step % 50) / 100, 2)}
                    )
                )
        if step % 6 == 0:
            calls.append(lambda: self.api.pack_preview(pid, {"budget_tokens": 500 + step % 3000}))
        self._send(tally, calls[step % len(calls)])

    def _send(self, tally: Tally, call: Callable[[], httpx.Response]) -> httpx.Response | None:
        # The client's recorder has counted the request (a 429 and a transport error too).
        try:
            return call()
        except (httpx.HTTPError, RateLimited):
            # A 429 is the burst limiter's answer, counted apart: the traffic goes on.
            return None


def _status(response: httpx.Response | None) -> str:
    return "no answer" if response is None else str(response.status_code)


def send(
    config: ClientConfig,
    ledger: Ledger,
    *,
    requests: int,
    max_seconds: float,
    projects_root: str,
    threads: int = 4,
    progress: Progress = print,
    pacer: Pacer | None = None,
) -> Tally:
    """Send about `requests` requests (bounded by `max_seconds`), then delete what was made."""
    tally = Tally(started=time.time())
    deadline = time.monotonic() + max_seconds
    stop = threading.Event()
    clients = [SkillMeatClient(config, recorder=tally.record) for _ in range(threads)]
    registries = [Registry(client, ledger) for client in clients]
    workers = [
        _Worker(i, clients[i], registries[i], f"{config.run_id}-{int(tally.started)}")
        for i in range(threads)
    ]
    try:
        for worker in workers:
            worker.setup(projects_root, tally, pacer)

        def run(worker: _Worker) -> None:
            while not stop.is_set() and time.monotonic() < deadline:
                if tally.requests >= requests:
                    return
                worker.one(tally)

        pool = [threading.Thread(target=run, args=(w,), daemon=True) for w in workers]
        for thread in pool:
            thread.start()
        last = time.monotonic()
        while any(t.is_alive() for t in pool):
            time.sleep(0.5)
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                progress(f"gate traffic: {tally.requests}/{requests} requests sent")
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        for registry in registries:
            registry.cleanup()
        # After the cleanup: its deletes are the client's traffic too, on both sides of the
        # comparison, so they cannot hide a request the server failed to count.
        tally.finished = time.time()
        for client in clients:
            client.close()
    return tally
