"""The factory Gymnasium's registry can point to: a scenario name, TOML path or spec -> the env.

``sim`` takes a resolved :class:`~sim.scene.scenario_spec.ScenarioSpec` and knows no catalogue; this
module, above it, turns what a user writes into a spec first. Registered as
``entry_point="scenarios.env_factory:make_obstacle_reach_env"`` (a string, so ``sim`` still
imports nothing of ``scenarios``), ``gymnasium.make(sim.ENV_IDS[0], scenario="cluttered")`` keeps
working.
"""

from __future__ import annotations

import inspect
import os
from typing import Any

from scenarios import get_scenario
from sim.env.env import ObstacleReachEnv
from sim.env.env_arguments import check_keywords
from sim.scene.scenario_spec import ScenarioSpec


def make_obstacle_reach_env(scenario: str | os.PathLike[str] | ScenarioSpec = "benchmark",
                            **env_arguments: Any) -> ObstacleReachEnv:
    """The obstacle-reach env on ``scenario`` (a built-in name, a ``.toml`` path or a spec).

    Args:
        scenario: what :func:`scenarios.get_scenario` accepts.
        env_arguments: the other arguments of :class:`sim.env.env.ObstacleReachEnv`, passed on as given.

    Raises:
        UnknownNameError: an unknown scenario name, or an unknown (e.g. misspelled) keyword argument (the
            message lists the valid ones and the closest), before anything is loaded.
        SceneFileError: a missing or malformed scenario file.
        InvalidInputError: an argument of the wrong type or out of its range (see the env's Arguments).
    """
    check_keywords("env keyword argument", env_arguments, ENV_ARGUMENTS)
    return ObstacleReachEnv(get_scenario(scenario), **env_arguments)


#: The env's keyword arguments besides ``scenario`` (its signature's keyword-only parameters).
ENV_ARGUMENTS: tuple[str, ...] = tuple(
    name for name, parameter in inspect.signature(ObstacleReachEnv.__init__).parameters.items()
    if parameter.kind is inspect.Parameter.KEYWORD_ONLY)


# gymnasium.make reads the creator's render modes (e.g. to accept "rgb_array_list") from here.
make_obstacle_reach_env.metadata = ObstacleReachEnv.metadata  # type: ignore[attr-defined]


__all__ = ["ENV_ARGUMENTS", "make_obstacle_reach_env"]
