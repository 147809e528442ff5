"""The simulation, one room: the PyBullet world (:mod:`sim.env.world`, the only module of the project that
imports ``pybullet``), its cameras, the Gymnasium env (:mod:`sim.env.env`), its spaces and reward
(:mod:`sim.env.env_spaces`) and the vector env (:mod:`sim.env.vector`).

Imports :mod:`sim.robot` and :mod:`sim.scene`; nothing below imports it.

The package offers the names of :mod:`sim.env.env`, which ``sim.env`` held when it was one module, so
``from sim.env import ObstacleReachEnv`` keeps working; code inside the project imports the module itself. They
load on first use: importing :mod:`sim.env.camera` or :mod:`sim.env.vector` alone loads neither the env nor
PyBullet (``run_sim.py --help`` lists the cameras). A module-level setting (``EPISODES_PER_CLIENT``) is read
from :mod:`sim.env.env`, and is patched there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.env.env import (
        CLEARANCE_HORIZON_M,
        CLEARANCE_MODES,
        CLEARANCE_PAIR_MARGIN_M,
        CONTACT_PHYSICS,
        DEFAULT_CAMERA,
        EPISODES_PER_CLIENT,
        PHYSICS_FREQUENCY_HZ,
        ObstacleReachEnv,
    )

__all__ = [
    "CLEARANCE_HORIZON_M", "CLEARANCE_MODES", "CLEARANCE_PAIR_MARGIN_M", "CONTACT_PHYSICS", "DEFAULT_CAMERA",
    "EPISODES_PER_CLIENT", "ObstacleReachEnv", "PHYSICS_FREQUENCY_HZ",
]


def __getattr__(name: str) -> Any:
    """The names of :mod:`sim.env.env`, read from it on each access (PEP 562)."""
    if name in __all__:
        from sim.env import env

        return getattr(env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
