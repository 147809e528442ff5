"""Training-side pieces of :mod:`agents.rl`: a slim info wrapper for HER and the GoalFeatures extractor.

``GoalFeatures`` is built lazily (stable-baselines3 and torch are optional imports) and keeps
``agents.rl`` as its module name: saved agents refer to it as ``agents.rl.GoalFeatures``, which
:mod:`agents.rl` resolves through :func:`goal_features_class`.
"""

from __future__ import annotations

from typing import Any


#: The info keys the training env keeps (see :class:`SlimInfo`).
TRAINING_INFO_KEYS: tuple[str, ...] = ("is_success", "collided", "target_error_m", "orientation_error_rad")


class _StoredInfo(dict):
    """A step's info as HER stores it: never modified after the step, so ``copy.deepcopy`` (which
    HER's ``copy_info_dict`` applies to every sampled info, ~20 us per plain dict) returns it as is."""

    def __deepcopy__(self, memo: dict[int, Any]) -> "_StoredInfo":
        return self


def slim_info_wrapper() -> Any:
    import gymnasium as gym

    class SlimInfo(gym.Wrapper):
        """Keep only :data:`TRAINING_INFO_KEYS` of each step's info, so HER can store and copy
        every transition's info (for the collision penalty of relabelled rewards) cheaply."""

        def step(self, action: Any) -> Any:
            observation, reward, terminated, truncated, info = self.env.step(action)
            return observation, reward, terminated, truncated, _StoredInfo({key: info[key] for key in TRAINING_INFO_KEYS})

    return SlimInfo


def goal_features_class() -> Any:
    """:class:`GoalFeatures` (built lazily: SB3 and torch are optional imports)."""
    global _GOAL_FEATURES
    if _GOAL_FEATURES is None:
        import torch
        from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

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
                slots = (total - 22) // 17 if obstacle_slots is None else min(int(obstacle_slots), (total - 22) // 17)
                keep = list(range(15)) + list(range(22, 22 + 17 * slots))
                super().__init__(observation_space, features_dim=len(keep) + 21)
                self.register_buffer("keep", torch.tensor(keep, dtype=torch.long), persistent=False)
                self.register_buffer("scale", torch.tensor([position_scale] * 3 + [quaternion_scale] * 4),
                                     persistent=False)

            def forward(self, observations: dict[str, Any]) -> Any:
                achieved, desired = observations["achieved_goal"], observations["desired_goal"]
                vector = observations["observation"].index_select(1, self.keep)
                return torch.cat([vector, achieved, desired, (desired - achieved) * self.scale], dim=1)

        GoalFeatures.__module__ = "agents.rl"
        GoalFeatures.__qualname__ = "GoalFeatures"
        _GOAL_FEATURES = GoalFeatures
    return _GOAL_FEATURES


_GOAL_FEATURES: Any = None
