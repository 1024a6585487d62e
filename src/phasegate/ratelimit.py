"""SkillMeat's burst limiter, and the one way phasegate answers it.

The target blocks a client address for 10 s once about 20 identical requests (method, path and
query) arrive within 10 s, and says so with `429` and `Retry-After: 10`. Every part of the suite
that may meet that answer (the checks' client, the contract sender, the load sweep, the top-up
traffic, the locust users) uses this module, so they all agree on:

- what a `Retry-After` says (seconds; unreadable or missing: `DEFAULT_RETRY_AFTER_S`),
- how long anyone waits at most (`RETRY_AFTER_CAP_S`: the target's own block, so a proxy that
  asks for minutes cannot stall a gate run),
- how many times a refused request is sent again (`RETRIES`), and
- what still-limited means: a 429 after those retries is the limiter's answer, reported as such
  (undecidable, unverified or counted apart), never as a pass and never as a product failure,
- which client address a request claims (`X-Forwarded-For`, as traffic behind a proxy does),
  and how many identical requests phasegate allows itself per address and window.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from phasegate.outcomes import Inconclusive

LIMITED_STATUS = 429
LIMITER_WINDOW_S = 10.0  # SkillMeat's sliding window (and its block) in 0.74.0
SAME_REQUEST_BUDGET = 15  # identical requests per address and window phasegate allows itself
RETRY_AFTER_CAP_S = 10.0
DEFAULT_RETRY_AFTER_S = 1.0
RETRIES = 1
FORWARDED_FOR = "X-Forwarded-For"


class Answer(Protocol):
    """What any HTTP library's response offers (httpx, requests, schemathesis)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Any: ...


AnswerT = TypeVar("AnswerT", bound=Answer)
T = TypeVar("T")


class RateLimited(Inconclusive):
    """The target's burst limiter refused the request: the check cannot decide either way."""

    def __init__(self, message: str, retry_after_s: float = DEFAULT_RETRY_AFTER_S) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def is_limited(status: int | None) -> bool:
    """The burst limiter's answer: neither a pass nor a product failure."""
    return status == LIMITED_STATUS


def retry_after_s(headers: Mapping[str, Any] | Any) -> float:
    """Seconds to wait before sending again: the header as told, within [0, RETRY_AFTER_CAP_S].

    Header names are looked up as sent and in lower case (schemathesis keeps lower-case names,
    each with a list of values). An HTTP date or any other unreadable value waits the default.
    """
    value = None
    for name in ("Retry-After", "retry-after"):
        value = headers.get(name)
        if value is not None:
            break
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        seconds = float(value) if value is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER_S
    if seconds != seconds:  # NaN
        seconds = DEFAULT_RETRY_AFTER_S
    return max(0.0, min(seconds, RETRY_AFTER_CAP_S))


@dataclass(frozen=True)
class RateLimitPolicy:
    """Send, and while the limiter refuses and retries remain, wait its Retry-After and resend.

    `send` returns the last answer, which may still be a 429: the caller decides what a request
    the limiter kept refusing means for it (see the module docstring). A call that raises
    instead of returning a 429 (SkillMeatClient's `RateLimited`) goes through `call`, which
    raises the last `RateLimited` when the limiter kept refusing.
    """

    retries: int = RETRIES
    sleep: Callable[[float], None] = time.sleep

    def send(self, call: Callable[[], AnswerT]) -> AnswerT:
        answer = call()
        for _ in range(self.retries):
            if not is_limited(answer.status_code):
                break
            self.sleep(retry_after_s(answer.headers))
            answer = call()
        return answer

    def call(self, call: Callable[[], T]) -> T:
        for _ in range(self.retries):
            try:
                return call()
            except RateLimited as refused:
                self.sleep(refused.retry_after_s)
        return call()


def client_network(seed: str) -> str:
    """A private /24 of its own for one sender (`10.a.b`), stable for the same seed."""
    digest = hashlib.sha256(seed.encode()).digest()
    return f"10.{digest[0]}.{digest[1]}"


def client_address(network: str, n: int) -> str:
    """The n-th client address of a network: 250 clients, as many users behind one proxy."""
    return f"{network}.{1 + n % 250}"
