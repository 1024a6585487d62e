"""Which traffic a phase's load gate sends: user classes from tests/load and a phase tag.

The classes live in the locustfiles (tests/load); this module only names them, so the library
never imports locust. Every task in those files carries the tags of the phases whose traffic it
belongs to, and every user class has tasks for each phase it is listed under here.
"""

from __future__ import annotations

from dataclasses import dataclass

from phasegate.phases import PHASE_TABLE

# Endpoint groups the locustfiles use as the first word of every request name. The gate judges
# p95 for each of JUDGED_GROUPS and for all gated traffic together (which also holds "service",
# the health probes of the production mix, and any group a custom locustfile adds).
JUDGED_GROUPS = ("memory.read", "memory.write", "modules", "packs")
# Traffic that exists to build and remove each user's data: counted (its failures count),
# never latency-gated.
UNGATED_GROUPS = frozenset({"setup", "cleanup"})


@dataclass(frozen=True)
class Profile:
    name: str
    user_classes: tuple[str, ...]
    tags: tuple[str, ...]
    description: str


PROFILES: dict[str, Profile] = {
    "internal": Profile(
        "internal",
        ("InternalTeamUser", "AgentPackUser"),
        ("phase2",),
        "phase 2: the internal team's memory CRUD, lifecycle, listing, modules and "
        "extraction, beside agents that preview and generate context packs (budgets of 500 "
        "to 100,000 tokens)",
    ),
    "canary": Profile(
        "canary",
        ("ProductionReaderUser", "AgentPackUser", "InternalTeamUser"),
        ("phase3",),
        "phase 3: the production mix through the canary split",
    ),
    "production": Profile(
        "production",
        ("ProductionReaderUser", "AgentPackUser", "InternalTeamUser"),
        ("phase4",),
        "phase 4: a read-mostly production mix with agents and a smaller share of writers",
    ),
}

# Which profile each phase sends: the phase table's choice, phases without a load gate left out.
PHASE_PROFILES = {
    spec.marker: spec.load_profile for spec in PHASE_TABLE.values() if spec.load_profile
}


def profile_for_phase(phase: str) -> Profile:
    try:
        return PROFILES[PHASE_PROFILES[phase]]
    except KeyError:
        raise ValueError(
            f"no load profile for {phase!r}: load gates exist for {', '.join(PHASE_PROFILES)}"
        ) from None
