"""The physics and geometry layer: kinematics, the real arm's geometry and collision, the PyBullet world, scenes and
the Gymnasium environment.

Importing ``sim`` registers the environments of :data:`ENV_IDS` with Gymnasium (string entry
points, so PyBullet loads only when an env is made)::

    import gymnasium as gym
    import sim

    env = gym.make("OpenManipulatorX-ObstacleReach-v0", scenario="cluttered", render_mode="rgb_array")
"""

from __future__ import annotations

from gymnasium.envs.registration import register, registry

#: Ids of the environments this package registers.
ENV_IDS: tuple[str, ...] = ("OpenManipulatorX-ObstacleReach-v0",)

if ENV_IDS[0] not in registry:
    register(id=ENV_IDS[0], entry_point="sim.env:ObstacleReachEnv", max_episode_steps=100)

__all__ = ["ENV_IDS"]
