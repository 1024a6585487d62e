"""What the simulated users write: memories that read like a team's notes, and search words.

Varied on purpose: types, lengths (80 to 4,000 characters) and wording change from item to
item, so the server indexes, searches and packs realistic text rather than one repeated string.
"""

from __future__ import annotations

import random

TYPES = ("decision", "constraint", "gotcha", "style_rule", "learning")

_TECH = (
    "PostgreSQL", "SQLite", "Redis", "the job queue", "FastAPI", "SQLAlchemy", "pytest",
    "the CDN", "Kafka", "the feature-flag service", "nginx", "the auth middleware",
    "Alembic", "the search index", "gRPC", "the metrics exporter", "Celery", "uvicorn",
)  # fmt: skip
_AREA = (
    "billing", "the import pipeline", "onboarding", "the admin UI", "the public API",
    "nightly reports", "the mobile sync", "search", "audit logging", "the webhook relay",
    "invoicing", "the data export", "session handling", "rate limiting", "the CLI",
)  # fmt: skip
_REASON = (
    "it keeps deploys reversible", "the team already operates it", "it halves p95 latency",
    "compliance requires it", "it failed twice in production", "reviews got shorter",
    "it removes a network hop", "the old path leaked connections", "tests became deterministic",
)  # fmt: skip
_DETAIL = (
    "Measured over two sprints with the staging dataset.",
    "See the incident review for the timeline and the follow-up actions.",
    "Applies to new code; old modules migrate when they are touched.",
    "Exceptions need a short note in the pull request description.",
    "The benchmark ran on the shared CI runners, so expect some noise.",
    "Owners: the platform team, with the on-call engineer as backup.",
    "Revisit when the traffic doubles or the schema changes again.",
)
# Search words of the locust users: every word their memories are made of.
WORDS = tuple(sorted({w.strip(".,;:").lower() for s in _TECH + _AREA + _REASON for w in s.split()}))


def memory_text(rng: random.Random, kind: str, marker: str, length: int) -> str:
    """A memory of `kind`, about `length` characters, ending in `[marker]` (run, user, seq)."""
    tech, area, reason = rng.choice(_TECH), rng.choice(_AREA), rng.choice(_REASON)
    lead = {
        "decision": f"Use {tech} for {area} because {reason}.",
        "constraint": f"Never bypass {tech} in {area}; {reason}.",
        "gotcha": f"{tech} in {area} times out under load unless warmed up first.",
        "style_rule": f"In {area}, wrap {tech} calls in one small adapter module.",
        "learning": f"{area.capitalize()} got faster after moving to {tech}: {reason}.",
    }[kind]
    parts = [lead]
    while sum(len(p) + 1 for p in parts) < length:
        parts.append(rng.choice(_DETAIL))
    return f"{' '.join(parts)} [{marker}]"
