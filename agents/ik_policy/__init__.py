"""IK policies: the policy interface, IK solvers, obstacle-aware Cartesian planning, the safety layer.

Modules: :mod:`~agents.ik_policy.interface` (:class:`Policy`, :class:`PolicyContext`),
:mod:`~agents.ik_policy.solvers` (analytic, PyBullet, IKNet), :mod:`~agents.ik_policy.planning`
(Cartesian paths bent around obstacles), :mod:`~agents.ik_policy.safety` (clearance projection of
one joint target) and :mod:`~agents.ik_policy.policy` (``SOLVER[+MODIFIER...]`` policies).
"""
