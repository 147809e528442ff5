"""Replanning from measured joints past a limit (#18): position control overshoots a joint limit by a
few mrad, and the IK policy used to hand that measured configuration to ``plan_path``, which refuses
a start outside the limits, stopping the episode (5 of 46 ``dynamic`` runs of the claims study)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.ik_policy.interface import PolicyContext
from agents.ik_policy.policy import IKPolicy, parse_policy
from evaluation.config import RunConfig
from evaluation.runner import run
from evaluation.schema import read_episodes
from sim.robot.collision import ObstacleSet
from sim.robot.kinematics import JOINT_LIMITS, clamp_to_limits, forward_kinematics, within_limits

ROOT = Path(__file__).resolve().parents[3]
START = np.array([-0.3, 0.3, -1.2, 1.6])
GOAL_Q = np.array([0.4, 0.2, -0.6, 1.2])


def test_a_replan_from_joints_past_a_limit_plans_from_the_nearest_commandable_configuration():
    # joint 3 measured 0.7 mrad below its lower limit, as in the study's first stopped run
    measured = np.array([-0.334, 0.313, JOINT_LIMITS[2, 0] - 7.3e-4, 1.5])
    assert not within_limits(measured, 1e-6)
    context = PolicyContext(start_q=START, goal_pose=forward_kinematics(GOAL_Q),
                            obstacles_at=lambda t: ObstacleSet.from_list([], [], []), control_dt_s=0.05,
                            dynamic=True, joints_from_observation=lambda observation: measured)
    policy = IKPolicy(parse_policy("analytic"), replan_every=2)
    policy.reset(context)
    targets = [policy.act(None) for _ in range(3)]  # the third call replans from ``measured``
    np.testing.assert_array_equal(policy.plan.joints[0], clamp_to_limits(measured))
    assert all(within_limits(target, 1e-9) for target in targets)
    assert within_limits(policy.plan.joints, 1e-9).all()


def test_the_study_network_that_stopped_in_dynamic_now_finishes_the_episode(tmp_path):
    """The real case: ``original-s0`` of the claims study on ``dynamic`` scene 11 (seed 0, episode 11),
    where the measured joint 3 passed -1.5 rad at a replan and the run stopped."""
    checkpoint = ROOT / "assets" / "study" / "original-s0.pt"
    out = tmp_path / "run"
    run(RunConfig(scenario="dynamic", policies=(f"iknet:{checkpoint}",), episodes=1, seed=11, out_dir=out,
                  max_steps=150, progress=False))
    rows = read_episodes(out)
    assert len(rows) == 1 and int(rows[0]["steps"]) > 5  # past the first replans
