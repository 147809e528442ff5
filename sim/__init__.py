"""The physics and geometry layer: kinematics, the real arm's geometry and collision, the PyBullet world, scenes and
the Gymnasium environment.

Importing ``sim`` registers the environments of :data:`ENV_IDS` with Gymnasium. The entry point
is a string naming the factory in ``scenarios`` that turns a scenario name or TOML path into a
spec (``sim`` itself imports nothing above it), so PyBullet loads only when an env is made::

    import gymnasium as gym
    import sim

    env = gym.make("OpenManipulatorX-ObstacleReach-v0", scenario="cluttered", render_mode="rgb_array")
    envs = gym.make_vec("OpenManipulatorX-ObstacleReach-v0", num_envs=8, scenario="cluttered")

``gym.make_vec`` builds a :class:`sim.vector.HybridVectorEnv` (the registry's vector entry point):
the sub-environments spread over one process per available core, this one included, the episodes
those of ``SyncVectorEnv``; ``vectorization_mode="sync"`` or ``"async"`` gives Gymnasium's own.
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

#: Ids of the environments this package registers.
ENV_IDS: tuple[str, ...] = ("OpenManipulatorX-ObstacleReach-v0",)

if ENV_IDS[0] not in registry:
    register(id=ENV_IDS[0], entry_point="scenarios.env_factory:make_obstacle_reach_env", max_episode_steps=100,
             vector_entry_point="sim.vector:make_vector_env")

__all__ = ["ENV_IDS"]
