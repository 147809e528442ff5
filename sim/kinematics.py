"""Moved to :mod:`sim.robot.kinematics`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.robot.kinematics import *  # noqa: F403
from sim.robot.kinematics import __all__  # noqa: F401
