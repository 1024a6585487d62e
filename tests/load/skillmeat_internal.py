"""Internal team (phase 2 onwards): memory CRUD, lifecycle, listing, modules and extraction.

People on the team curate their projects' memories by hand: they list and filter, read single
items, write new decisions and gotchas, promote what proved right, deprecate and merge what did
not, group memories into context modules, try extraction on session notes, and look at the packs
their agents will get. The mix, with its weights and tags (the phases whose traffic a task
belongs to, `--tags phase2`, and a function: read, write, lifecycle, modules, packs, extract),
is `phasegate.traffic.mix.INTERNAL_TEAM`.
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser, locust_tasks
from locust import between

from phasegate.traffic.mix import INTERNAL_TEAM


class InternalTeamUser(SkillMeatUser):
    profile = INTERNAL_TEAM
    weight = INTERNAL_TEAM.weight
    wait_time = between(*INTERNAL_TEAM.wait_s)
    tasks = locust_tasks(INTERNAL_TEAM)
