"""Baselines that plug into the policy interface: stable-baselines3 agents and OMPL's planners.

Modules: :mod:`~agents.baselines.rl` (training and loading, ``python -m agents.baselines.rl``),
:mod:`~agents.baselines.rl_features` (HER info wrapper, GoalFeatures extractor),
:mod:`~agents.baselines.rl_archive` (reading an agent archive without unpickling anything from it),
:mod:`~agents.baselines.rl_policy` (``rl:ALGORITHM:PATH.zip``), :mod:`~agents.baselines.planner`
(OMPL in joint space) and :mod:`~agents.baselines.planner_policy` (``ompl:PLANNER[:GOAL_SOLVER]``).
Their libraries are optional extras (``rl``, ``plan``), imported only when used.
"""
