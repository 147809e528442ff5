"""Moved to :mod:`sim.scene.scenario_spec`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.scene.scenario_spec import *  # noqa: F403
from sim.scene.scenario_spec import __all__  # noqa: F401
