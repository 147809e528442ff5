"""Moved to :mod:`sim.scene.scene_sampling`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.scene.scene_sampling import *  # noqa: F403
from sim.scene.scene_sampling import __all__  # noqa: F401
