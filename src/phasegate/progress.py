"""How long-running steps say what they are doing, one line at a time.

Starting a stack, installing SkillMeat, topping up traffic or running locust takes seconds to
minutes; each takes a `Progress` so the caller decides where its lines go (pytest's terminal
reporter, the CLI's stdout, a list in a self-test).
"""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str], None]
