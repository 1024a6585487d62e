"""Projects several checks write into, kept within the target's burst limiter.

A project of its own costs every check one paced project creation (pacing.py), which is most of
a smoke run's time. Checks whose subject is not the project as a whole share one instead. Sharing
turns requests that named one check's project (`POST /memory-items?project_id=...`, a listing of
the project) into requests several checks repeat, and SkillMeat's limiter counts identical
requests per client. So the requests naming each shared project are remembered, and a project
takes another check only while no request shape naming it was sent more than HEADROOM times in
the limiter's window: sharing adds at most that many identical requests to what a check sends on
its own. When every shared project is that busy, a new one is made.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import parse_qsl, unquote

from phasegate.evidence import Exchange
from phasegate.pacing import Pacer

# The pacer keeps the suite's project creations 5 below the limiter's ~20 identical requests;
# the same margin is what sharing may add to a check's own repeats.
HEADROOM = 5


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


ProjectT = TypeVar("ProjectT", bound=_Identified)


@dataclass(frozen=True)
class _Sent:
    at: float
    shape: str


class SharedProjects(Generic[ProjectT]):
    """The shared projects of one process and the requests that recently named each of them."""

    def __init__(
        self,
        create: Callable[[], ProjectT],
        *,
        headroom: int = HEADROOM,
        window_s: float = Pacer.window_s,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._create = create
        self.headroom = headroom
        self.window_s = window_s
        self._clock = clock
        self.projects: list[ProjectT] = []
        self._sent: dict[str, list[_Sent]] = {}

    def lease(self) -> ProjectT:
        """A shared project with room for one more check; a new one when none has."""
        for project in self.projects:
            if self.busiest(project) <= self.headroom:
                return project
        project = self._create()
        self.projects.append(project)
        self._sent[project.id] = []
        return project

    def record(self, project: ProjectT, exchanges: Iterable[Exchange]) -> None:
        """Remember a check's requests naming the project, stamped now: no earlier than sent,
        so they stay in the window at least as long as in the limiter's."""
        now = self._clock()
        self._sent.setdefault(project.id, []).extend(
            _Sent(now, _shape(e)) for e in exchanges if project.id in unquote(e.path)
        )

    def busiest(self, project: ProjectT) -> int:
        """How often the most repeated request naming the project was sent within the window."""
        horizon = self._clock() - self.window_s
        recent = [sent for sent in self._sent.get(project.id, []) if sent.at > horizon]
        self._sent[project.id] = recent
        counts: dict[str, int] = {}
        for sent in recent:
            counts[sent.shape] = counts.get(sent.shape, 0) + 1
        return max(counts.values(), default=0)


def _shape(exchange: Exchange) -> str:
    """What the limiter counts as one kind of request: method, path and the query's parameters
    in any order."""
    path, _, query = exchange.path.partition("?")
    return f"{exchange.method} {path}?{sorted(parse_qsl(query, keep_blank_values=True))}"
