"""Agents (every phase with the flag ON): context packs first, some reads, a few learnings.

An agent session previews a pack, generates it (budgets spread from 500 to 100,000 tokens,
sometimes for one context module, sometimes filtered), reads a few memories and now and then
writes back what it learned. This is the heaviest traffic per request: pack generation reads
every active memory of the project. The mix is `phasegate.traffic.mix.AGENT_PACK`.
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser, locust_tasks
from locust import between

from phasegate.traffic.mix import AGENT_PACK


class AgentPackUser(SkillMeatUser):
    profile = AGENT_PACK
    weight = AGENT_PACK.weight
    wait_time = between(*AGENT_PACK.wait_s)
    tasks = locust_tasks(AGENT_PACK)
