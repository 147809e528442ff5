"""Kinematics: FK against PyBullet and a transform-chain oracle (inside and outside the joint
limits), NumPy against torch, analytic IK round trips, validation of input types and of commands."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.spatial.transform import Rotation

from sim.errors import InvalidInputError
from sim.robot.kinematics import (
    EE_INDEX,
    GRIPPER_LIMITS_M,
    HOME_CONFIGURATION,
    JOINT_LIMITS,
    LINK_NAMES,
    analytic_ik,
    analytic_ik_solutions,
    check_joints,
    clamp_to_limits,
    forward_kinematics,
    limit_violations,
    link_frames,
    sample_joints,
    within_limits,
)
from sim.robot.transforms import quat_angle, quat_normalize


def _quat_of(rotations: np.ndarray) -> np.ndarray:
    """Quaternions ``[qx, qy, qz, qw]`` (scalar part non-negative) of rotation matrices, by SciPy."""
    return quat_normalize(Rotation.from_matrix(rotations.reshape(-1, 3, 3)).as_quat()).reshape(*rotations.shape[:-2], 4)


def quat_equal_up_to_sign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Geodesic angle (rad) between two rotations; PyBullet's quaternions are not exactly unit."""
    return quat_angle(np.asarray(a, dtype=float), np.asarray(b, dtype=float))


def test_fk_matches_pybullet_link_states_for_1000_configurations(world, rng):
    joints = sample_joints(rng, 1000)
    grippers = rng.uniform(*GRIPPER_LIMITS_M, size=1000)
    poses = forward_kinematics(joints)
    worst_position, worst_rotation = 0.0, 0.0
    for q, gripper, pose in zip(joints, grippers, poses, strict=False):
        world.reset_joints(q, gripper_m=gripper)
        frames = link_frames(q, gripper)
        position, quaternion = world.link_pose("end_effector_link")
        assert np.max(np.abs(position - pose[:3])) < 1e-6
        assert quat_equal_up_to_sign(quaternion, pose[3:]) < 1e-6
        for index, name in enumerate(LINK_NAMES):
            position, quaternion = world.link_pose(name)
            worst_position = max(worst_position, np.max(np.abs(position - frames.positions[index])))
            rotation_error = quat_equal_up_to_sign(quaternion, _quat_of(frames.rotations[index]))
            worst_rotation = max(worst_rotation, rotation_error)
    assert worst_position < 1e-6
    assert worst_rotation < 1e-6


def test_link_frames_end_effector_equals_forward_kinematics(rng):
    joints = sample_joints(rng, 500)
    frames = link_frames(joints)
    poses = forward_kinematics(joints)
    np.testing.assert_allclose(frames.positions[:, EE_INDEX], poses[:, :3], atol=1e-12)
    assert np.max(quat_equal_up_to_sign(_quat_of(frames.rotations[:, EE_INDEX]), poses[:, 3:])) < 1e-7


def test_quaternion_is_canonical_with_non_negative_scalar(rng):
    poses = forward_kinematics(sample_joints(rng, 5000))
    assert np.all(poses[:, 6] >= 0)
    np.testing.assert_allclose(np.linalg.norm(poses[:, 3:], axis=-1), 1.0, atol=1e-12)


def test_numpy_and_torch_forward_kinematics_agree(rng):
    joints = sample_joints(rng, 2000)
    numpy_poses = forward_kinematics(joints)
    torch_poses = forward_kinematics(torch.tensor(joints))
    np.testing.assert_allclose(torch_poses.numpy(), numpy_poses, atol=1e-12)
    torch32 = forward_kinematics(torch.tensor(joints, dtype=torch.float32))
    assert torch32.dtype == torch.float32
    np.testing.assert_allclose(torch32.numpy(), numpy_poses, atol=1e-6)
    frames_np = link_frames(joints)
    frames_torch = link_frames(torch.tensor(joints))
    np.testing.assert_allclose(frames_torch.positions.numpy(), frames_np.positions, atol=1e-12)
    np.testing.assert_allclose(frames_torch.rotations.numpy(), frames_np.rotations, atol=1e-12)


def test_torch_gradients_match_finite_differences(rng):
    joints = torch.tensor(sample_joints(rng, 6) * 0.9, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: forward_kinematics(q, validate=False)[..., :3], (joints,),
                                    eps=1e-6, atol=1e-7)
    # Orientation through a smooth function of the quaternion (sign canonicalisation is piecewise).
    target = torch.tensor(forward_kinematics(sample_joints(rng, 6)))
    assert torch.autograd.gradcheck(
        lambda q: quat_angle(forward_kinematics(q, validate=False)[..., 3:], target[..., 3:]), (joints,),
        eps=1e-6, atol=1e-6
    )


@settings(max_examples=300, deadline=None)
@given(
    arrays(np.float64, (4,), elements=st.floats(0.0, 1.0, allow_nan=False)),
    st.sampled_from(["closest", "up", "down"]),
)
def test_analytic_ik_reproduces_every_in_limit_pose(unit, branch):
    q = JOINT_LIMITS[:, 0] + unit * (JOINT_LIMITS[:, 1] - JOINT_LIMITS[:, 0])
    pose = forward_kinematics(q)
    solution, reachable = analytic_ik(pose, return_mask=True)
    assert reachable  # some in-limit solution exists: q itself
    assert within_limits(solution)
    reached = forward_kinematics(solution)
    assert np.max(np.abs(reached[:3] - pose[:3])) < 1e-6
    assert quat_angle(reached[3:], pose[3:]) < 1e-6
    forced, ok = analytic_ik(pose, branch=branch, return_mask=True)
    if ok:
        np.testing.assert_allclose(forward_kinematics(forced)[:3], pose[:3], atol=1e-6)
    else:
        assert np.all(np.isnan(forced))


def test_analytic_ik_batched_round_trip_and_branches(rng):
    joints = sample_joints(rng, 100_000)
    poses = forward_kinematics(joints)
    solution, reachable = analytic_ik(poses, return_mask=True)
    assert reachable.all()
    assert np.max(np.abs(forward_kinematics(solution)[:, :3] - poses[:, :3])) < 1e-9
    both = analytic_ik_solutions(poses)
    assert both.joints.shape == (100_000, 2, 4) and both.valid.shape == (100_000, 2)
    assert both.valid[:, 1].any(), "the elbow-down branch is inside the limits for some poses"
    for branch in range(2):
        valid = both.valid[:, branch]
        np.testing.assert_allclose(forward_kinematics(both.joints[valid, branch])[:, :3], poses[valid, :3], atol=1e-9)
        assert np.isnan(both.joints[~valid, branch]).all()


def test_analytic_ik_returns_nan_outside_the_workspace():
    far = np.array([[1.0, 0.0, 0.2, 0, 0, 0, 1], [0.0, 0.0, 0.9, 0, 0, 0, 1], [0.1, -0.6, 0.0, 0, 0, 0, 1]])
    joints, mask = analytic_ik(far, return_mask=True)
    assert not mask.any()
    assert np.isnan(joints).all()


def test_analytic_ik_nearest_orientation_for_unrealisable_pose():
    # Roll about the approach axis is not realisable on a 4-DOF arm: position is still reached.
    roll = np.array([math.sin(0.2), 0.0, 0.0, math.cos(0.2)])
    pose = np.concatenate([[0.25, 0.05, 0.15], roll])
    joints, mask = analytic_ik(pose, return_mask=True)
    assert mask
    np.testing.assert_allclose(forward_kinematics(joints)[:3], pose[:3], atol=1e-9)


def test_analytic_ik_accepts_torch():
    pose = torch.tensor(forward_kinematics(HOME_CONFIGURATION))
    joints = analytic_ik(pose)
    assert isinstance(joints, torch.Tensor)
    np.testing.assert_allclose(forward_kinematics(joints.numpy())[:3], pose[:3].numpy(), atol=1e-9)


#: Finite configurations past ROBOTIS' published limits, as a real arm's joint-state logs hold them.
OUT_OF_LIMIT_JOINTS = np.array([
    [0.0, 0.0, 1.45, 0.0],  # joint3 above its upper limit 1.4
    [0.0, -1.6, 0.0, 0.0],  # joint2 below -1.5
    [0.3, 0.4, -1.8, 0.5],  # joint3 at the real log's -1.8
    [-0.2, 0.1, 0.3, 2.11],  # joint4 at the real log's 2.11
    [0.1, 0.2, 0.1, -1.79],  # joint4 at the real log's -1.79
    [math.pi + 0.25, 0.3, -0.2, 0.4],  # joint1 past pi
    [-math.pi - 0.4, -0.5, 0.6, -0.3],  # joint1 past -pi
    [7.0, 2.0, -2.5, 3.0],  # everything far outside
])


def chained_transform_pose(q: np.ndarray) -> np.ndarray:
    """Oracle: end-effector pose (7,) from 4x4 transforms chained along the URDF's joint origins (ROBOTIS' xacro)."""
    from scipy.spatial.transform import Rotation

    def joint(xyz, axis, angle):
        transform = np.eye(4)
        transform[:3, :3] = Rotation.from_rotvec(np.array(axis, dtype=float) * angle).as_matrix()
        transform[:3, 3] = xyz
        return transform

    chain = (
        joint((0.012, 0.0, 0.017), (0, 0, 1), q[0])
        @ joint((0.0, 0.0, 0.0595), (0, 1, 0), q[1])
        @ joint((0.024, 0.0, 0.128), (0, 1, 0), q[2])
        @ joint((0.124, 0.0, 0.0), (0, 1, 0), q[3])
        @ joint((0.126, 0.0, 0.0), (0, 0, 1), 0.0)
    )
    return np.concatenate([chain[:3, 3], Rotation.from_matrix(chain[:3, :3]).as_quat()])


def test_forward_kinematics_computes_out_of_limit_angles():
    assert not within_limits(OUT_OF_LIMIT_JOINTS).any()
    poses = forward_kinematics(OUT_OF_LIMIT_JOINTS)
    assert poses.shape == (len(OUT_OF_LIMIT_JOINTS), 7)
    for q, pose in zip(OUT_OF_LIMIT_JOINTS, poses, strict=False):
        expected = chained_transform_pose(q)
        np.testing.assert_allclose(pose[:3], expected[:3], atol=1e-12)
        assert quat_angle(pose[3:], expected[3:]) < 1e-9
    assert np.all(poses[:, 6] >= 0)
    torch_poses = forward_kinematics(torch.tensor(OUT_OF_LIMIT_JOINTS))
    np.testing.assert_allclose(torch_poses.numpy(), poses, atol=1e-12)
    frames = link_frames(OUT_OF_LIMIT_JOINTS, 0.01)
    np.testing.assert_allclose(frames.positions[:, EE_INDEX], poses[:, :3], atol=1e-12)
    frames_torch = link_frames(torch.tensor(OUT_OF_LIMIT_JOINTS), 0.01)
    np.testing.assert_allclose(frames_torch.positions.numpy(), frames.positions, atol=1e-12)
    np.testing.assert_allclose(frames_torch.rotations.numpy(), frames.rotations, atol=1e-12)
    # joint 1 is periodic: past pi is the same as wrapped
    wrapped = OUT_OF_LIMIT_JOINTS.copy()
    wrapped[:, 0] = np.mod(wrapped[:, 0] + math.pi, 2 * math.pi) - math.pi
    np.testing.assert_allclose(forward_kinematics(wrapped)[:, :3], poses[:, :3], atol=1e-12)


def test_torch_gradients_through_out_of_limit_angles():
    joints = torch.tensor(OUT_OF_LIMIT_JOINTS[2:5], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: forward_kinematics(q)[..., :3], (joints,), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize(
    ("joints", "message"),
    [
        (np.array([0.0, 0.0, 1.45, 0.0]), "joint3"),
        (np.array([[0.0, 0.0, 0.0, 0.0], [0.0, -1.6, 0.0, 0.0]]), "joint2"),
        (np.array([0.0, 0.0, -1.8, 0.0]), "joint3 = -1.8000 rad at index"),
        (np.array([[0.0, 0.0, 0.0, 2.11]]), r"joint4 .* at index \(0,\) is outside its limits"),
        ([math.pi + 0.1, 0.0, 0.0, 0.0], "joint1"),
    ],
)
def test_check_joints_rejects_out_of_limit_commands(joints, message):
    with pytest.raises(InvalidInputError, match=message):
        check_joints(joints)
    check_joints(joints, check_limits=False)  # finite and well shaped: fine without limits
    assert not within_limits(joints).all()
    assert limit_violations(joints).any()


def test_check_joints_of_one_configuration_decides_as_the_batch_path():
    """One (4,) float64 configuration takes a Python-float path: the same verdict as a batch of one
    at each limit +- tolerance and one ulp past it, with NaN and inf, and the same message."""
    values = [0.0, math.nan, math.inf, -math.inf]
    for lower, upper in JOINT_LIMITS:
        for edge, outward in ((lower - 1e-6, -math.inf), (upper + 1e-6, math.inf)):
            values += [edge, math.nextafter(edge, outward), math.nextafter(edge, -outward)]
    for joint in range(4):
        for value in values:
            q = np.zeros(4)
            q[joint] = value
            verdicts = []
            for joints in (q, q[None]):
                try:
                    check_joints(joints)
                    verdicts.append("ok")
                except InvalidInputError as error:
                    verdicts.append(str(error).replace(" at index (0,)", " at index ()"))
            assert verdicts[0] == verdicts[1], (joint, value, verdicts)
    assert check_joints(np.array([0.0, 0.0, 1.4 + 1e-6, 0.0])) is None  # on the tolerance: accepted


def test_limit_violations_reports_each_joint_without_raising():
    q = np.array([[0.0, 0.0, -1.8, 2.11], [math.pi + 0.1, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [np.nan] * 4])
    expected = np.array([[False, False, True, True], [True, False, False, False], [False] * 4, [False] * 4])
    np.testing.assert_array_equal(limit_violations(q), expected)
    np.testing.assert_array_equal(limit_violations(torch.tensor(q)), expected)
    np.testing.assert_array_equal(within_limits(q), [False, False, True, False])
    assert limit_violations(np.zeros((0, 4))).shape == (0, 4)
    assert not limit_violations(JOINT_LIMITS.T).any()  # the limits themselves are inside


@pytest.mark.parametrize(
    ("joints", "message"),
    [
        (np.zeros(3), r"shape \(\.\.\., 4\), got \(3,\)"),
        (np.zeros((5, 2)), "shape"),
        (np.array(0.5), r"shape \(\.\.\., 4\), got \(\)"),
        (np.array([0.0, np.nan, 0.0, 0.0]), "NaN"),
        (np.array([[0.0, 0.0, 0.0, 0.0], [0.0, np.inf, 0.0, 0.0]]), "NaN or infinite"),
        (np.array([0.0, 0.0, 0.0, -np.inf]), "NaN or infinite"),
        (torch.tensor([0.0, float("nan"), 0.0, 0.0]), "NaN or infinite"),
        (None, "missing"),
        ("0 0 0 0", "string"),
        (b"\x00\x00\x00\x00", "string"),
        (np.array([1 + 2j, 0, 0, 0]), "complex"),
        (torch.tensor([1 + 2j, 0, 0, 0]), "complex"),
        (np.array([0.0, "a", None, 0.0], dtype=object), "object"),
        (np.array([True, False, True, False]), "bool"),
        ([[0.0, 0.0], [0.0, 0.0, 0.0]], "could not be converted"),
        ({"joint1": 0.0}, "object"),
    ],
)
def test_forward_kinematics_rejects_bad_joint_arrays(joints, message):
    with pytest.raises(InvalidInputError, match=message):
        forward_kinematics(joints)
    with pytest.raises(InvalidInputError, match=message):
        link_frames(joints)
    with pytest.raises(InvalidInputError, match=message):
        check_joints(joints)


@pytest.mark.parametrize("joints", [np.zeros(3), None, "abcd", np.array([1j, 0, 0, 0]), np.array([object()] * 4)])
def test_validate_false_still_rejects_wrong_type_and_shape(joints):
    with pytest.raises(InvalidInputError):
        forward_kinematics(joints, validate=False)
    with pytest.raises(InvalidInputError):
        link_frames(joints, validate=False)


def test_validate_false_skips_only_the_finiteness_check():
    poses = forward_kinematics(np.array([[0.0, np.nan, 0.0, 0.0], [0.0, 0.0, -1.8, 0.0]]), validate=False)
    assert np.isnan(poses[0]).all()
    np.testing.assert_allclose(poses[1], forward_kinematics(np.array([0.0, 0.0, -1.8, 0.0])), atol=0)


def test_forward_kinematics_accepts_lists_tuples_and_integers():
    expected = forward_kinematics(np.array([0.1, -0.2, 0.3, 0.4]))
    np.testing.assert_array_equal(forward_kinematics([0.1, -0.2, 0.3, 0.4]), expected)
    np.testing.assert_array_equal(forward_kinematics((0.1, -0.2, 0.3, 0.4)), expected)
    np.testing.assert_array_equal(forward_kinematics([[0.1, -0.2, 0.3, 0.4]] * 2), np.stack([expected] * 2))
    integer = forward_kinematics(np.array([0, 0, 0, 0]))
    assert integer.dtype == np.float64
    np.testing.assert_array_equal(integer, forward_kinematics(np.zeros(4)))
    integer_tensor = forward_kinematics(torch.tensor([0, 0, 0, 0]))
    assert integer_tensor.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(integer_tensor.double().numpy(), integer, atol=1e-6)
    assert forward_kinematics(np.zeros(4, dtype=np.float32)).dtype == np.float32
    frames = link_frames([0.1, -0.2, 0.3, 0.4], 0.01)
    np.testing.assert_array_equal(frames.positions[EE_INDEX], expected[:3])


def test_link_frames_takes_a_gripper_per_configuration_and_checks_it(rng):
    joints = sample_joints(rng, 6)
    grippers = np.linspace(*GRIPPER_LIMITS_M, 6)
    batched = link_frames(joints, grippers)
    for q, gripper, positions in zip(joints, grippers, batched.positions, strict=False):
        np.testing.assert_allclose(link_frames(q, float(gripper)).positions, positions, atol=1e-15)
    with pytest.raises(InvalidInputError, match="gripper_m holds NaN"):
        link_frames(joints, np.nan)
    with pytest.raises(InvalidInputError, match="does not broadcast"):
        link_frames(joints, np.zeros(5))
    with pytest.raises(InvalidInputError, match="gripper_m must be a real number"):
        link_frames(joints, "open")


@pytest.mark.parametrize(
    ("pose", "message"),
    [
        (np.zeros(6), "shape"),
        (np.array([0.2, 0, 0.1, 0, 0, 0, np.inf]), "NaN or infinite"),
        (np.array([0.2, 0, 0.1, 0, 0, 0, 2.0]), "unit length"),
    ],
)
def test_analytic_ik_rejects_bad_poses(pose, message):
    with pytest.raises(InvalidInputError, match=message):
        analytic_ik(pose)
    with pytest.raises(ValueError, match="branch"):
        analytic_ik(forward_kinematics(HOME_CONFIGURATION), branch="sideways")


def test_limit_helpers():
    q = np.array([[4.0, 0.0, -2.0, 0.0], [0.0, 0.1, 0.2, 0.3]])
    assert within_limits(q).tolist() == [False, True]
    clamped = clamp_to_limits(q)
    assert within_limits(clamped).all()
    np.testing.assert_allclose(clamped[0], [math.pi, 0.0, -1.5, 0.0])
    assert torch.equal(clamp_to_limits(torch.tensor(q)), torch.tensor(clamped))


def test_quat_angle_is_the_rotation_angle(rng):
    a, b = quat_normalize(rng.normal(size=(1000, 4))), quat_normalize(rng.normal(size=(1000, 4)))
    expected = (Rotation.from_quat(a).inv() * Rotation.from_quat(b)).magnitude()
    np.testing.assert_allclose(quat_angle(a, b), expected, atol=1e-12)
    np.testing.assert_allclose(quat_angle(a, -b), expected, atol=1e-12)  # q and -q: one rotation
    assert np.all(quat_angle(a, a) == 0.0)
    np.testing.assert_allclose(quat_angle(torch.tensor(a), torch.tensor(b)).numpy(), expected, atol=1e-12)


def test_slerp_moves_along_the_short_arc_at_constant_rate(rng):
    from scipy.spatial.transform import Slerp

    from sim.robot.transforms import slerp

    a, b = quat_normalize(rng.normal(size=(200, 4))), quat_normalize(rng.normal(size=(200, 4)))
    t = rng.uniform(size=200)
    between = slerp(a, b, t)
    np.testing.assert_allclose(quat_angle(a, between), t * quat_angle(a, b), atol=1e-9)
    np.testing.assert_allclose(quat_angle(between, b), (1 - t) * quat_angle(a, b), atol=1e-9)
    assert np.all(between[:, 3] >= 0) and np.allclose(np.linalg.norm(between, axis=-1), 1.0)
    fractions = np.linspace(0, 1, 7)  # one pair, many fractions: SciPy's own Slerp agrees
    expected = Slerp([0.0, 1.0], Rotation.from_quat([a[0], b[0]]))(fractions).as_quat()
    np.testing.assert_allclose(quat_angle(slerp(a[0], b[0], fractions), expected), 0.0, atol=1e-9)


def test_float32_rounded_poses_at_full_elbow_stretch_are_solved():
    import sim.robot.kinematics as kinematics

    q = kinematics.sample_joints(np.random.default_rng(5), 5000)
    q[:, 2] = -kinematics._UPPER_ARM_ANGLE  # upper arm and forearm in line: cos(bend) = 1
    pose = kinematics.forward_kinematics(q).astype(np.float32).astype(np.float64)
    joints, ok = kinematics.analytic_ik(pose, return_mask=True)
    assert ok.all()
    assert np.abs(kinematics.forward_kinematics(joints)[:, :3] - pose[:, :3]).max() < 1e-6


def test_one_configuration_takes_the_scalar_path_with_bit_identical_results(rng):
    """A single float64 configuration (every env step) is computed with Python floats; it must give
    the batch's numbers bit for bit, sign of zero included, inside and outside the limits."""
    configurations = np.concatenate([
        sample_joints(rng, 3000), rng.uniform(-40.0, 40.0, (500, 4)),
        np.zeros((1, 4)), -np.zeros((1, 4)), [[-0.0, 0.3, -0.0, 1e-300]],
    ])
    grippers = rng.uniform(*GRIPPER_LIMITS_M, len(configurations))
    grippers[-3:] = 0.0
    for q, gripper_m in zip(configurations, grippers, strict=True):
        single, batch = link_frames(q, float(gripper_m)), link_frames(q[None], gripper_m)
        pose, poses = forward_kinematics(q), forward_kinematics(q[None])
        for one, many in ((single.positions, batch.positions), (single.rotations, batch.rotations), (pose, poses)):
            assert one.shape == many.shape[1:] and one.dtype == many.dtype == np.float64
            np.testing.assert_array_equal(one, many[0])
            np.testing.assert_array_equal(np.signbit(one), np.signbit(many[0]))


def test_scalar_path_leaves_non_finite_and_float32_input_to_the_arrays():
    with np.errstate(invalid="ignore"):
        pose = forward_kinematics(np.array([np.inf, 0.0, 0.0, 0.0]), validate=False)
        frames = link_frames(np.array([0.0, np.nan, 0.0, 0.0]), validate=False)
    assert np.isnan(pose[0]) and pose.shape == (7,)
    assert np.isnan(frames.positions[3:]).all() and frames.positions.shape == (8, 3)  # from link4 on
    with np.errstate(over="ignore", invalid="ignore"):  # finite angles whose pitch sums overflow
        assert np.isnan(forward_kinematics(np.full(4, 1e308))).all()
        assert np.isnan(link_frames(np.array([0.0, 1e308, 1e308, 0.0])).positions[4:]).all()  # from link5 on
    single = forward_kinematics(np.float32([0.1, 0.2, 0.3, 0.4]))
    assert single.dtype == np.float32
