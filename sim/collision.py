"""Moved to :mod:`sim.robot.collision`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.robot.collision import *  # noqa: F403
from sim.robot.collision import __all__  # noqa: F401
