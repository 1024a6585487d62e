"""Bounded, realistic background traffic for the metric gates on the embedded stack.

The 0.1% error-rate gate needs about 3,000 requests before it can say PASS (rule of three), far
more than the smoke checks send. This driver sends the traffic model's top-up mix
(`mix.GATE_TOP_UP`, requests from `top_up.request`): read-mostly Memory & Context calls
from a few threads, each over a project of its own, varied so that no identical request repeats
often enough to trip SkillMeat's burst limiter, and counts what it saw on the client side (429s
apart) so the gates can be triangulated against the server's own metrics.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from phasegate.client import ClientConfig, SkillMeatClient
from phasegate.evidence import Exchange
from phasegate.pacing import Pacer
from phasegate.progress import Progress
from phasegate.ratelimit import RateLimitPolicy
from phasegate.resources import Ledger, Registry, Resource
from phasegate.traffic import top_up
from phasegate.traffic.model import Project, Request, create_project

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
    """One top-up worker: a project of its own, seeded with a few memories, then the rotation."""

    def __init__(self, index: int, api: SkillMeatClient, registry: Registry, prefix: str) -> None:
        self.index = index
        self.api = api
        self.registry = registry
        self.name = top_up.project_name(prefix, index)
        self.project = Project("", self.name)
        self.step = 0

    def setup(self, projects_root: str, tally: Tally, pacer: Pacer | None = None) -> None:
        create = create_project(self.name, f"{projects_root}/{self.name}")

        def attempt() -> httpx.Response:
            if pacer is not None:
                pacer.wait_for_slot()
            return self._request(create)

        try:
            # One retry after the limiter's Retry-After: the suite's one 429 policy.
            response: httpx.Response | None = RateLimitPolicy(sleep=time.sleep).send(attempt)
        except httpx.HTTPError:
            response = None
        if response is None or response.status_code != 201:
            raise RuntimeError(f"traffic: project create answered {_status(response)}")
        self.project.id = response.json()["id"]
        self.registry.add(Resource("project", self.project.id, self.name))
        for seed in top_up.seed_items(self.project, self.index):
            created = self._send(seed)
            if created is not None and created.status_code == 201:
                answer = created.json()
                seed.after(answer)
                content = seed.body["content"]
                self.registry.add(Resource("item", answer["id"], content, self.project.id))
            time.sleep(0.05)

    def one(self) -> None:
        """One request; the shapes rotate so each exact request recurs rarely."""
        self.step += 1
        self._send(top_up.request(self.step, self.project))

    def _send(self, request: Request) -> httpx.Response | None:
        # The client's recorder has counted the request (a 429 and a transport error too); a
        # 429 is the burst limiter's answer, counted apart: the traffic goes on.
        try:
            return self._request(request)
        except httpx.HTTPError:
            return None

    def _request(self, request: Request) -> httpx.Response:
        send = self.api.api if request.api else self.api.request
        return send(
            request.method, request.path, params=request.params, json=request.body, allow_429=True
        )


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
                worker.one()

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
