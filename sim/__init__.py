"""The physics and geometry layer, in three rooms that import one way (``sim.env -> sim.scene -> sim.robot``):

* :mod:`sim.robot`: kinematics, the real arm's geometry, the sphere bound and collision, obstacle kinds;
* :mod:`sim.scene`: obstacles and scenes, the scenario spec, scene sampling;
* :mod:`sim.env`: the PyBullet world, cameras, the Gymnasium environment, its spaces and its vector env.

:mod:`sim.errors` serves all three. The modules' old paths (``sim.kinematics``, ``sim.collision``, ``sim.scene``,
``sim.transforms``, ``sim.obstacle_kinds``, ``sim.world``, ...) re-export the same objects.

Importing ``sim`` registers the environments of :data:`ENV_IDS` with Gymnasium. The entry point
is a string naming the factory in ``scenarios`` that turns a scenario name or TOML path into a
spec (``sim`` itself imports nothing above it), so PyBullet loads only when an env is made::

    import gymnasium as gym
    import sim

    env = gym.make("OpenManipulatorX-ObstacleReach-v0", scenario="cluttered", render_mode="rgb_array")
    envs = gym.make_vec("OpenManipulatorX-ObstacleReach-v0", num_envs=8, scenario="cluttered")

``gym.make_vec`` builds a :class:`sim.env.vector.HybridVectorEnv` (the registry's vector entry point):
the sub-environments spread over one process per available core, this one included, the episodes
those of ``SyncVectorEnv``; ``vectorization_mode="sync"`` or ``"async"`` gives Gymnasium's own.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

#: Ids of the environments this package registers.
ENV_IDS: tuple[str, ...] = ("OpenManipulatorX-ObstacleReach-v0",)

# No PassiveEnvChecker by default (``gymnasium.make(..., disable_env_checker=False)`` still adds it): Gymnasium
# 1.x's marks its first reset checked before calling it, so after a refused first reset (a bad seed or option)
# its first step unpacks the missing reset data and crashes, and the env could not be used again through
# gymnasium.make. The tests run Gymnasium's and SB3's full checkers on every scenario instead.
if ENV_IDS[0] not in registry:
    register(id=ENV_IDS[0], entry_point="scenarios.env_factory:make_obstacle_reach_env", max_episode_steps=100,
             vector_entry_point="sim.env.vector:make_vector_env", disable_env_checker=True)

__all__ = ["ENV_IDS"]
