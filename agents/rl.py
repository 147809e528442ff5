"""Shim: the shipped ``assets/rl/sac_single.zip`` pickled ``agents.rl.GoalFeatures``; that name keeps loading."""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "GoalFeatures":
        from agents.baselines.rl_features import goal_features_class

        return goal_features_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
