"""Bounded background traffic for the metric gates on the embedded stack, counted client-side.

The 0.1% error-rate gate needs thousands of requests before it can say PASS, far more than the
smoke checks send. This driver sends the phase's top-up mix (`top_up.mix_for_phase`): a few
threads, each a simulated user of the traffic model with a project of its own and its own
`X-Forwarded-For` address, pacing every request shape under SkillMeat's burst limiter
(`model.SameKeyBudget`, as the locust users do), so 429s stay rare.

The client-side `Tally` counts every request it sent, whatever happened to it: an answer by its
status class (2xx, 4xx, 429, 5xx), and a timeout, a refused or a reset connection as a
transport failure. A transport failure is a failed request like a 5xx: it stays in `requests`
and in `failures`, so a target that hangs fails the error gates instead of dropping out of them.
The server's metrics cannot see it; the gates' comparison of client and server reports it so.
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
from phasegate.ratelimit import FORWARDED_FOR, RateLimitPolicy
from phasegate.resources import Ledger, Registry, Resource
from phasegate.traffic import top_up
from phasegate.traffic.model import (
    Answer,
    Project,
    Request,
    SameKeyBudget,
    client_address,
    create_project,
    request_key,
)

SLOW_S = 0.5
TRANSPORT = "transport"
CLASSES = ("2xx", "4xx", "429", "5xx", TRANSPORT)  # the answer classes the suite tells apart


def answer_class(status: int | None) -> str:
    """2xx, 4xx (429 apart), 429, 5xx; `transport` when no answer came (timeout, refused,
    reset); other statuses by their hundred (1xx, 3xx)."""
    if status is None:
        return TRANSPORT
    if status == 429:
        return "429"
    return f"{status // 100}xx"


@dataclass
class Tally:
    """What the client saw: every request sent, by answer class and status, failures included."""

    requests: int = 0  # every request sent, transport failures included
    server_errors: int = 0
    rate_limited: int = 0
    slow: int = 0
    transport_errors: int = 0
    started: float = 0.0
    finished: float = 0.0
    by_status: Counter[int] = field(default_factory=Counter)
    by_class: Counter[str] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def answered(self) -> int:
        """Requests the target answered (any status): what its request counter can see."""
        return self.requests - self.transport_errors

    @property
    def failures(self) -> int:
        """Failed requests: 5xx answers and requests that got no answer at all."""
        return self.server_errors + self.transport_errors

    def add(self, status: int | None, seconds: float) -> None:
        with self._lock:
            self.requests += 1
            self.by_class[answer_class(status)] += 1
            if seconds > SLOW_S:
                self.slow += 1
            if status is None:
                self.transport_errors += 1
                return
            self.by_status[status] += 1
            if status >= 500:
                self.server_errors += 1
            if status == 429:
                self.rate_limited += 1

    def record(self, exchange: Exchange) -> None:
        """Every request the traffic's clients send (setup, traffic, cleanup) is counted once."""
        self.add(exchange.status, exchange.duration_ms / 1000)

    def sent(self, operation: str) -> None:
        with self._lock:
            self.by_operation[operation] += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "answered": self.answered,
            "failures": self.failures,
            "server_errors": self.server_errors,
            "transport_errors": self.transport_errors,
            "rate_limited": self.rate_limited,
            "slow_over_0.5s": self.slow,
            "seconds": round(self.finished - self.started, 1),
            "by_class": {name: self.by_class.get(name, 0) for name in CLASSES},
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_operation": dict(self.by_operation.most_common()),
        }


class _Worker:
    """One top-up worker: a simulated user with a project of its own, then the rotation."""

    def __init__(
        self,
        index: int,
        api: SkillMeatClient,
        registry: Registry,
        prefix: str,
        mix: top_up.TopUpMix,
        tally: Tally,
    ) -> None:
        self.index = index
        self.api = api
        self.registry = registry
        self.mix = mix
        self.tally = tally
        self.name = top_up.project_name(prefix, index)
        self.user = top_up.user(prefix, index, api.config.run_id)
        self.headers = {FORWARDED_FOR: client_address(self.user.rng)}
        self.pacing = SameKeyBudget()
        self.project: Project | None = None
        self.step = 0

    def setup(self, projects_root: str, pacer: Pacer | None = None) -> None:
        """Create and seed the worker's project; a project that cannot be made is no error
        here (the failed requests are in the tally): the worker then has nothing to send."""
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
            return
        project = self.user.adopt_project(self.name, response.json())
        if project is None:
            return
        self.project = project
        self.registry.add(Resource("project", project.id, self.name))
        for seed in top_up.seed_items(self.user, project):
            self.perform(seed)
            time.sleep(0.05)

    def one(self) -> None:
        """The rotation's next operation (and any follow-up the model asks for)."""
        self.step += 1
        operation = self.mix.operation(self.step)
        self.tally.sent(operation)
        self.perform(top_up.request(self.step, self.mix, self.user))

    def perform(self, request: Request | None) -> None:
        while request is not None:
            request = request.after(self._send(request))

    def cleanup(self) -> None:
        """The user's modules and items (the model's deletes); the registry deletes the project."""
        for request in self.user.cleanup():
            if request.action == "delete-project":
                continue
            try:
                self._request(request)
            except httpx.HTTPError:
                return  # the target stopped answering: the orphan scan reports what is left

    def _send(self, request: Request) -> Answer:
        """One paced request; the parsed body when its status was expected, else None.

        The client's recorder has counted it (a 429 and a transport failure too).
        """
        key = request_key(request, self.api.api_prefix)
        pause = self.pacing.wait_s(key, time.monotonic())
        if pause:
            time.sleep(pause)
        self.pacing.sent(key, time.monotonic())
        try:
            response = self._request(request)
        except httpx.HTTPError:
            return None
        if response.status_code not in request.expect:
            return None
        if response.status_code == 204 or not response.content:
            return {}
        try:
            answer: Answer = response.json()
        except ValueError:
            return {}
        return answer

    def _request(self, request: Request) -> httpx.Response:
        send = self.api.api if request.api else self.api.request
        return send(
            request.method,
            request.path,
            params=request.params,
            json=request.body,
            headers=self.headers,
            allow_429=True,
        )


class _Turns:
    """One request slot every 1/rate seconds, shared by every thread; no limit without a rate."""

    def __init__(self, rate_per_s: float | None, stop: threading.Event) -> None:
        self.interval = 1.0 / rate_per_s if rate_per_s else 0.0
        self.next_at = time.monotonic()
        self.lock = threading.Lock()
        self.stop = stop

    def wait(self) -> None:
        if not self.interval:
            return
        with self.lock:
            at = max(self.next_at, time.monotonic())
            self.next_at = at + self.interval
        delay = at - time.monotonic()
        if delay > 0:
            self.stop.wait(delay)


def send(
    config: ClientConfig,
    ledger: Ledger,
    *,
    requests: int,
    max_seconds: float,
    projects_root: str,
    mix: top_up.TopUpMix,
    threads: int = 4,
    progress: Progress = print,
    pacer: Pacer | None = None,
    rate_per_s: float | None = None,
    tally: Tally | None = None,
    stop: threading.Event | None = None,
) -> Tally:
    """Send about `requests` requests of `mix` (bounded by `max_seconds`, and by `rate_per_s`
    across all threads when given: the soak's steady traffic), then delete what was made.
    Every request counts toward `requests`, failed ones included. A caller that watches the
    traffic while it runs (a drill) passes its own `tally` and may end it early with `stop`."""
    tally = tally if tally is not None else Tally(started=time.time())
    deadline = time.monotonic() + max_seconds
    stop = stop if stop is not None else threading.Event()
    turn = _Turns(rate_per_s, stop)
    clients = [SkillMeatClient(config, recorder=tally.record) for _ in range(threads)]
    registries = [Registry(client, ledger) for client in clients]
    prefix = f"{config.run_id}-{int(tally.started)}"
    workers = [_Worker(i, clients[i], registries[i], prefix, mix, tally) for i in range(threads)]
    try:
        for worker in workers:
            if time.monotonic() < deadline:
                worker.setup(projects_root, pacer)

        def run(worker: _Worker) -> None:
            while worker.project is not None and not stop.is_set():
                if tally.requests >= requests or time.monotonic() >= deadline:
                    return
                turn.wait()
                worker.one()

        pool = [threading.Thread(target=run, args=(w,), daemon=True) for w in workers]
        for thread in pool:
            thread.start()
        last = time.monotonic()
        while any(t.is_alive() for t in pool):
            time.sleep(0.5)
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                progress(
                    f"gate traffic: {tally.requests}/{requests} requests sent "
                    f"({tally.failures} failed)"
                )
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        for worker in workers:
            worker.cleanup()
        for registry in registries:
            registry.cleanup()
        # After the cleanup: its deletes are the client's traffic too, on both sides of the
        # comparison, so they cannot hide a request the server failed to count.
        tally.finished = time.time()
        for client in clients:
            client.close()
    return tally
