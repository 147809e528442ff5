"""Moved to :mod:`sim.robot.geometry_fit`; this path keeps working for users (the same objects).

Code inside the project imports the new path (``tests/sim/test_layout.py`` checks it).
"""

from sim.robot.geometry_fit import *  # noqa: F403
from sim.robot.geometry_fit import __all__  # noqa: F401

if __name__ == "__main__":  # ``python -m sim.geometry_fit`` runs ``python -m sim.robot.geometry_fit``
    import sys

    from sim.robot.geometry_fit import main

    sys.exit(main())
