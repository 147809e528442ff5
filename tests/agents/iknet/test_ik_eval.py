"""The IK accuracy helper: exact oracles for perfect, biased, out-of-limit and failing solvers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agents.iknet import build_model
from agents.iknet.dataset import sample_pairs
from agents.iknet.ik_eval import IKAccuracy, accuracy_of_answers, evaluate_ik, model_solver
from sim.errors import InvalidInputError
from sim.robot.kinematics import analytic_ik


@pytest.fixture(scope="module")
def pairs():
    return sample_pairs(np.random.default_rng(21), 1000)


def test_analytic_solver_is_perfect(pairs) -> None:
    result = evaluate_ik(analytic_ik, pairs.poses.astype(np.float64), reference_joints=pairs.joints,
                         name="analytic")
    assert result.count == 1000 and result.name == "analytic"
    assert result.position_error_mm_max < 1e-3 and result.orientation_error_deg_max < 1e-3
    assert result.within_1mm_pct == result.within_5mm_pct == 100.0
    assert result.out_of_limits_pct == result.failed_pct == 0.0
    assert max(result.joint_error_deg_median) < 1e-3


def test_known_errors_are_reported_exactly(pairs) -> None:
    joints = pairs.joints.astype(np.float64).copy()
    joints[:, 0] -= np.sign(joints[:, 0]) * np.radians(2.0)  # yaw error of 2 degrees, towards the centre
    joints[:10] = np.nan  # 1 % failures
    joints[10:60, 3] = 3.0  # 5 % beyond joint4's upper limit 1.97
    result = accuracy_of_answers(joints, pairs.poses, reference_joints=pairs.joints, name="biased")
    assert result.failed_pct == pytest.approx(1.0) and result.out_of_limits_pct == pytest.approx(5.0)
    assert result.position_error_mm_max == np.inf
    assert result.joint_error_deg_median[0] == pytest.approx(2.0, abs=1e-4)
    assert result.orientation_error_deg_median == pytest.approx(2.0, abs=1e-3)
    unclamped = accuracy_of_answers(joints, pairs.poses, clamp=False)
    assert unclamped.out_of_limits_pct == result.out_of_limits_pct
    assert np.isnan(unclamped.joint_error_deg_median[0])


def test_result_is_frozen_and_formats_a_table_row(pairs) -> None:
    result = evaluate_ik(model_solver(build_model("focused").eval()), pairs.poses, name="untrained")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.count = 3  # type: ignore[misc]
    row, header = result.table_row(), IKAccuracy.table_header()
    assert row.startswith("| untrained |") and row.count("|") == header.splitlines()[0].count("|") == 10
    refined = evaluate_ik(model_solver(build_model("focused").eval(), refine_steps=2), pairs.poses[:10])
    assert refined.out_of_limits_pct == 0.0


def test_bad_shapes_are_rejected(pairs) -> None:
    with pytest.raises(InvalidInputError):
        accuracy_of_answers(np.zeros((3, 4)), pairs.poses[:2])
    with pytest.raises(InvalidInputError):
        accuracy_of_answers(np.zeros((0, 4)), np.zeros((0, 7)))
