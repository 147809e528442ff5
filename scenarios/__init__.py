"""Obstacle scenarios: the built-in catalogue and user TOML files.

A scenario is data (:class:`~sim.scene.scenario_spec.ScenarioSpec`); sampling a scene from it is
:func:`sim.scene.scene_sampling.sample_scene`. The spec and scene types live in :mod:`sim.scene.scenario_spec`
and :mod:`sim.scene.obstacles` because the environment consumes them and ``sim`` imports nothing of the project but
``assets``; this package holds what is *chosen*: the named built-ins and the TOML format.

Example:
    >>> import numpy as np
    >>> from scenarios import get_scenario, scenario_names
    >>> from sim.scene.scene_sampling import sample_scene
    >>> scenario_names()
    ['empty', 'single', 'cluttered', 'narrow', 'shelf', 'dynamic', 'benchmark']
    >>> scene = sample_scene(get_scenario("cluttered"), np.random.default_rng(0))
    >>> 2 <= len(scene.obstacles) <= 5
    True
"""

from __future__ import annotations

import os
from pathlib import Path

from scenarios.catalogue import BUILTIN_SCENARIOS
from scenarios.toml_format import load_scenario_file, scenario_from_dict, scenario_to_toml
from sim.errors import UnknownNameError, invalid_value
from sim.scene.obstacles import Motion, Obstacle, Scene
from sim.scene.scenario_spec import (
    ConfigurationSpec,
    GateSpec,
    MotionSpec,
    ObstacleGroup,
    Region,
    ScenarioSpec,
    ShelfSpec,
)

#: Folder of the example scenario files shipped with the package.
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"


def scenario_names() -> list[str]:
    """Names of the built-in scenarios, in catalogue order."""
    return list(BUILTIN_SCENARIOS)


def get_scenario(name_or_path: str | os.PathLike[str] | ScenarioSpec) -> ScenarioSpec:
    """A built-in scenario by name, or a scenario TOML file by path (a spec passes through).

    Raises:
        UnknownNameError: not a built-in name and not a ``.toml`` path (lists the valid names).
        SceneFileError: the TOML file is missing, not a regular file, or malformed (names the field).
        InvalidInputError: neither a string, a path nor a spec.
    """
    if isinstance(name_or_path, ScenarioSpec):
        return name_or_path
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise invalid_value("scenario", name_or_path, "a built-in name, a .toml path or a ScenarioSpec")
    text = os.fsdecode(name_or_path)
    if text in BUILTIN_SCENARIOS:
        return BUILTIN_SCENARIOS[text]
    if text.lower().endswith(".toml") or isinstance(name_or_path, Path) or os.path.isfile(text):
        return load_scenario_file(text)
    raise UnknownNameError("scenario", text, scenario_names())


__all__ = [
    "BUILTIN_SCENARIOS", "EXAMPLES_DIR", "ConfigurationSpec", "GateSpec", "Motion", "MotionSpec", "Obstacle",
    "ObstacleGroup", "Region", "ScenarioSpec", "Scene", "ShelfSpec", "get_scenario", "load_scenario_file",
    "scenario_from_dict", "scenario_names", "scenario_to_toml",
]
