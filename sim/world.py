"""Moved to :mod:`sim.env.world`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.env.world import *  # noqa: F403
from sim.env.world import __all__  # noqa: F401
