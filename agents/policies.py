"""Every policy family by name: build or validate a policy from the name ``run_sim.py`` is given.

Families, by the prefix of the name (:data:`BASELINE_FAMILIES`):

- IK policies, ``SOLVER[+MODIFIER...]`` (``analytic``, ``pybullet-ik``, ``iknet:MODEL``; see
  :func:`agents.ik_policy.policy.parse_policy`);
- ``rl:ALGORITHM:PATH.zip``: a trained stable-baselines3 agent (:mod:`agents.baselines.rl_policy`,
  extra ``rl``);
- ``ompl:PLANNER[:GOAL_SOLVER]``: OMPL's joint-space planners (:mod:`agents.baselines.planner_policy`,
  extra ``plan``).

The baseline modules import their optional libraries only when a policy is built or validated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from agents.baselines import planner_policy, rl_policy
from agents.ik_policy.interface import Policy
from agents.ik_policy.policy import IKPolicy, check_solver_checkpoint, parse_policy
from agents.ik_policy.safety import SAFETY_MARGIN_M


class BaselineFamily(NamedTuple):
    """How names of one baseline family are checked and built."""

    validate: Callable[[str], None]
    make: Callable[[str], Policy]


#: Name prefix -> baseline family; a name without one of these prefixes is an IK policy.
BASELINE_FAMILIES: dict[str, BaselineFamily] = {
    "rl": BaselineFamily(rl_policy.validate_name, rl_policy.make_rl_policy),
    "ompl": BaselineFamily(planner_policy.validate_name, planner_policy.make_planner_policy),
}


def validate_policy_name(name: str) -> None:
    """Raise unless ``name`` names a policy that can be built here (checkpoint files are opened).

    Raises:
        UnknownNameError: malformed name, unknown solver, model, modifier, planner or algorithm.
        CheckpointError: an ``iknet:PATH.pt`` or ``rl:...:PATH.zip`` file is missing or unreadable.
        DependencyNotInstalled: a baseline's optional library is missing (the message names the extra).
    """
    family = BASELINE_FAMILIES.get(name.split(":", 1)[0])
    if family is not None:
        family.validate(name)
        return
    check_solver_checkpoint(parse_policy(name).model)


def make_policy(name: str, *, safety_margin_m: float = SAFETY_MARGIN_M) -> Policy:
    """Build the policy a name describes (see the module docstring)."""
    family = BASELINE_FAMILIES.get(name.split(":", 1)[0])
    if family is not None:
        return family.make(name)
    return IKPolicy(parse_policy(name), safety_margin_m=safety_margin_m)
