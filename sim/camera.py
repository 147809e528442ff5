"""Moved to :mod:`sim.env.camera`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.env.camera import *  # noqa: F403
from sim.env.camera import __all__  # noqa: F401
