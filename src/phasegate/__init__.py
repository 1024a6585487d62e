"""phasegate: turn each phase of SkillMeat's Memory & Context rollout into a GO / NO_GO /
INCONCLUSIVE decision with its evidence.

The package is a plain typed library; pytest is only imported by its pytest adapters
(`plugin`, `liveness_plugin`, `fixtures`, `runstate`) and by `cli` to launch a run.
"""

from phasegate.outcomes import Inconclusive

__all__ = ["Inconclusive", "__version__"]
__version__ = "0.1.0"
