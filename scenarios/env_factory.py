"""The factory Gymnasium's registry can point to: a scenario name, TOML path or spec -> the env.

``sim`` takes a resolved :class:`~sim.scene.scenario_spec.ScenarioSpec` and knows no catalogue; this
module, above it, turns what a user writes into a spec first. Registered as
``entry_point="scenarios.env_factory:make_obstacle_reach_env"`` (a string, so ``sim`` still
imports nothing of ``scenarios``), ``gymnasium.make(sim.ENV_IDS[0], scenario="cluttered")`` keeps
working.
"""

from __future__ import annotations

import os
from typing import Any

from scenarios import get_scenario
from sim.env.env import ObstacleReachEnv
from sim.scene.scenario_spec import ScenarioSpec


def make_obstacle_reach_env(scenario: str | os.PathLike[str] | ScenarioSpec = "benchmark",
                            **env_arguments: Any) -> ObstacleReachEnv:
    """The obstacle-reach env on ``scenario`` (a built-in name, a ``.toml`` path or a spec).

    Args:
        scenario: what :func:`scenarios.get_scenario` accepts.
        env_arguments: the other arguments of :class:`sim.env.env.ObstacleReachEnv`, passed on as given.

    Raises:
        UnknownNameError: an unknown scenario name (the message lists the valid ones).
        SceneFileError: a missing or malformed scenario file.
    """
    return ObstacleReachEnv(get_scenario(scenario), **env_arguments)


# gymnasium.make reads the creator's render modes (e.g. to accept "rgb_array_list") from here.
make_obstacle_reach_env.metadata = ObstacleReachEnv.metadata  # type: ignore[attr-defined]


__all__ = ["make_obstacle_reach_env"]
