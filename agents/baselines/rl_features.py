"""Training-side pieces of :mod:`agents.baselines.rl`: a slim info wrapper for HER and the GoalFeatures extractor.

``GoalFeatures`` is built lazily (stable-baselines3 and torch are optional imports); this module
resolves the attribute ``GoalFeatures`` on first use, which is how a saved agent finds it when
unpickled. Agents saved before the move refer to ``agents.rl.GoalFeatures`` (see :mod:`agents.rl`).
"""

from __future__ import annotations

from typing import Any

from sim.errors import DependencyNotInstalled

GOAL_SIZE = 7  #: a pose: [x, y, z, qx, qy, qz, qw]
#: The info keys the training env keeps (see :class:`SlimInfo`).
TRAINING_INFO_KEYS: tuple[str, ...] = ("is_success", "collided", "target_error_m", "orientation_error_rad")


def import_sb3() -> Any:
    """The ``stable_baselines3`` module.

    Raises:
        DependencyNotInstalled: stable-baselines3 is missing (extra ``rl``).
    """
    try:
        import stable_baselines3
    except ImportError:
        raise DependencyNotInstalled("stable-baselines3", "rl") from None
    return stable_baselines3


class StoredInfo(dict):
    """A step's info as HER stores it: never modified after the step, so ``copy.deepcopy`` (which
    HER's ``copy_info_dict`` applies to every sampled info, ~20 us per plain dict) returns it as is."""

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredInfo:
        return self


def slim_info_wrapper() -> Any:
    import gymnasium as gym

    class SlimInfo(gym.Wrapper):
        """Keep only :data:`TRAINING_INFO_KEYS` of each step's info, so HER can store and copy
        every transition's info (for the collision penalty of relabelled rewards) cheaply."""

        def step(self, action: Any) -> Any:
            observation, reward, terminated, truncated, info = self.env.step(action)
            slim = StoredInfo({key: info[key] for key in TRAINING_INFO_KEYS})
            return observation, reward, terminated, truncated, slim

    return SlimInfo


def goal_features_class() -> Any:
    """:class:`GoalFeatures` (built lazily: SB3 and torch are optional imports)."""
    global _GOAL_FEATURES
    if _GOAL_FEATURES is None:
        import torch
        from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

        from sim.env.env_spaces import OBSTACLE_FEATURES, ROBOT_FEATURES

        class GoalFeatures(BaseFeaturesExtractor):
            """Features of the goal-conditioned Dict observation for small MLPs.

            ``[joints 4, joint velocities 4, end-effector pose 7, obstacle slots 17 k, achieved
            goal 7, desired goal 7, scale * (desired - achieved) 7]``: the goal pose copy inside
            ``observation`` (indices 15-21) is dropped, since HER relabels only ``desired_goal``
            and the stale copy contradicts it; only the first ``obstacle_slots`` slots are kept
            (a scenario's padding is always zero); the goal error is scaled (position x20, so
            1 cm reads 0.2; quaternion x5) so the centimetre the success test needs is visible.
            """

            def __init__(self, observation_space: Any, obstacle_slots: int | None = None,
                         position_scale: float = 20.0, quaternion_scale: float = 5.0) -> None:
                total = observation_space["observation"].shape[0]
                available = (total - ROBOT_FEATURES) // OBSTACLE_FEATURES
                slots = available if obstacle_slots is None else min(int(obstacle_slots), available)
                goal_copy_start = ROBOT_FEATURES - GOAL_SIZE  # the goal pose closes the robot features
                obstacle_end = ROBOT_FEATURES + OBSTACLE_FEATURES * slots
                keep = list(range(goal_copy_start)) + list(range(ROBOT_FEATURES, obstacle_end))
                super().__init__(observation_space, features_dim=len(keep) + 3 * GOAL_SIZE)
                self.register_buffer("keep", torch.tensor(keep, dtype=torch.long), persistent=False)
                self.register_buffer("scale", torch.tensor([position_scale] * 3 + [quaternion_scale] * 4),
                                     persistent=False)

            def forward(self, observations: dict[str, Any]) -> Any:
                achieved, desired = observations["achieved_goal"], observations["desired_goal"]
                vector = observations["observation"].index_select(1, self.keep)
                return torch.cat([vector, achieved, desired, (desired - achieved) * self.scale], dim=1)

        GoalFeatures.__module__ = __name__
        GoalFeatures.__qualname__ = "GoalFeatures"
        _GOAL_FEATURES = GoalFeatures
    return _GOAL_FEATURES


_GOAL_FEATURES: Any = None


def __getattr__(name: str) -> Any:
    """``GoalFeatures`` resolves lazily (saved agents refer to it by its dotted name)."""
    if name == "GoalFeatures":
        return goal_features_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
