"""Production mix (phases 3 and 4): read-mostly, with packs and a trickle of writes.

Once the feature reaches everyone, most requests read: lists with filters, single items,
counts, searches and pack previews; a small share writes (new memories, edits, promotions);
load balancers probe /health. The mix is `phasegate.traffic.mix.PRODUCTION_READER`.
"""

from __future__ import annotations

from _skillmeat_traffic import SkillMeatUser, locust_tasks
from locust import between

from phasegate.traffic.mix import PRODUCTION_READER


class ProductionReaderUser(SkillMeatUser):
    profile = PRODUCTION_READER
    weight = PRODUCTION_READER.weight
    wait_time = between(*PRODUCTION_READER.wait_s)
    tasks = locust_tasks(PRODUCTION_READER)
