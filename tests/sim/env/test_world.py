"""The PyBullet wrapper: isolation of worlds, obstacles, contacts, control, state, rendering."""

from __future__ import annotations

import math

import numpy as np
import pybullet
import pytest

from sim.env.world import World
from sim.errors import InvalidInputError, UnknownNameError
from sim.robot.kinematics import MAX_JOINT_VELOCITY_RAD_S, forward_kinematics


def test_two_worlds_keep_separate_states():
    with World() as first, World() as second:
        assert first.client_id != second.client_id
        first.reset_joints([0.5, 0.2, -0.3, 0.1])
        second.reset_joints([-1.0, -0.4, 0.6, 1.0])
        first.add_obstacle("ball", "sphere", (0.03,), (0.2, 0.0, 0.1))
        np.testing.assert_allclose(first.joint_positions(), [0.5, 0.2, -0.3, 0.1])
        np.testing.assert_allclose(second.joint_positions(), [-1.0, -0.4, 0.6, 1.0])
        assert first.obstacle_names() == ["ball"] and second.obstacle_names() == []
        first.set_position_targets([0.0, 0.0, 0.0, 0.0])
        first.step(50)
        np.testing.assert_allclose(second.joint_positions(), [-1.0, -0.4, 0.6, 1.0])


def test_closing_frees_the_client():
    world = World()
    client = world.client_id
    assert pybullet.getConnectionInfo(client)["isConnected"] == 1
    world.close()
    world.close()  # idempotent
    assert pybullet.getConnectionInfo(client)["isConnected"] == 0
    with pytest.raises(RuntimeError, match="closed"):
        world.joint_positions()


def test_obstacles_can_be_added_moved_and_removed(world):
    world.add_obstacle("box", "box", (0.02, 0.03, 0.04), (0.25, 0.0, 0.05))
    world.move_obstacle("box", (0.1, 0.2, 0.3))
    position, _ = world.body_pose("box")
    np.testing.assert_allclose(position, [0.1, 0.2, 0.3])
    world.remove_obstacle("box")
    assert world.obstacle_names() == []
    with pytest.raises(UnknownNameError, match="valid choices"):
        world.move_obstacle("box", (0, 0, 0))
    with pytest.raises(UnknownNameError, match="box, cylinder, sphere"):
        world.add_obstacle("cone", "cone", (0.1,), (0, 0, 0))
    with pytest.raises(InvalidInputError, match="size"):
        world.add_obstacle("bad", "box", (0.1, 0.1), (0, 0, 0))


def test_contacts_are_reported_with_link_body_and_force(world):
    q = np.array([0.0, 0.3, 0.2, 0.3])
    tip = forward_kinematics(q)[:3]
    world.reset_joints(np.array([0.0, -0.6, 0.2, 0.3]))
    world.add_obstacle("block", "box", (0.03, 0.08, 0.03), tip)
    world.set_position_targets(q)
    touched = []
    for _ in range(120):
        world.step()
        touched += world.contacts()
    assert touched, "driving the gripper into the block must produce contacts"
    assert {contact.body for contact in touched} == {"block"}
    assert all(contact.link in world.link_names() for contact in touched)
    assert max(contact.normal_force_n for contact in touched) > 0
    assert world.min_clearance() < 1e-3


def test_position_control_respects_the_velocity_limit(world):
    world.reset_joints(np.zeros(4))
    world.set_position_targets([3.0, 1.4, -1.4, 1.9])
    peak = 0.0
    for _ in range(60):
        world.step()
        peak = max(peak, np.max(np.abs(world.joint_velocities())))
    # PyBullet's motor caps the velocity it commands; gravity makes the joints overshoot the
    # cap by up to ~2.5% for a step or two (measured), so allow 3%.
    assert peak <= MAX_JOINT_VELOCITY_RAD_S * 1.03
    assert peak > 0.5 * MAX_JOINT_VELOCITY_RAD_S


def test_state_saved_restores_after_an_exception(world):
    world.reset_joints([0.1, 0.2, 0.3, 0.4])
    with pytest.raises(ZeroDivisionError), world.state_saved():
        world.reset_joints([1.0, 1.0, 1.0, 1.0])
        raise ZeroDivisionError
    np.testing.assert_allclose(world.joint_positions(), [0.1, 0.2, 0.3, 0.4])


def test_render_shows_the_arm_and_changes_when_it_moves(world):
    world.reset_joints([0.0, -1.0, 0.3, 0.7])
    first = world.render(160, 120)
    assert first.shape == (120, 160, 3) and first.dtype == np.uint8
    assert first.std() > 10, "the frame must not be blank"
    world.reset_joints([1.2, 0.8, 0.2, -0.5])
    second = world.render(160, 120)
    changed = np.mean(np.any(first != second, axis=-1))
    assert changed > 0.01
    top = world.render(64, 48, camera="top")
    assert top.shape == (48, 64, 3)
    with pytest.raises(UnknownNameError, match="front"):
        world.render(64, 48, camera="fisheye")


def test_connecting_prints_nothing(capfd):
    with World() as world:
        assert world.client.getNumBodies() == 2  # robot and table, through the bound client
    captured = capfd.readouterr()
    assert "argv" not in captured.out + captured.err


def drive_through_obstacles(world: World, seed: int) -> list[tuple]:
    """Add 4 random obstacles near the arm's reach (seeded), drive the arm to 15 random targets;
    (joints, velocities, contacts) after every control step of 12 physics steps."""
    rng = np.random.default_rng(seed)
    low, high = np.array([-1.5, -0.5, -0.5, -0.5]), np.array([1.5, 0.8, 0.8, 1.0])
    for index in range(4):
        kind, size_count = (("sphere", 1), ("box", 3), ("cylinder", 2))[rng.integers(3)]
        position = forward_kinematics(rng.uniform(low, high))[:3] + rng.uniform(-0.03, 0.03, 3)
        world.add_obstacle(f"obstacle{index}", kind, tuple(rng.uniform(0.015, 0.04, size_count)), position)
    world.reset_joints([0.0, -0.6, 0.2, 0.3])
    records = []
    for target in rng.uniform(low, high, (15, 4)):
        world.set_position_targets(target)
        contacts = world.step_watching_contacts(12)[0]
        q, qd = world.joint_state()
        records.append((q.tolist(), qd.tolist(), contacts))
    return records


def test_a_reused_world_steps_exactly_like_a_fresh_one():
    """Obstacles removed and others added: the world must not remember them (sorted overlapping
    pairs, removal from the end), so an env can keep its client across episodes. (Without the
    sorting, this run differs after the world held the earlier scenes.)"""
    with World() as fresh:
        expected = drive_through_obstacles(fresh, 0)
    assert any(record[2] for record in expected), "the compared run must touch obstacles"
    with World() as reused:
        for seed in (100, 101, 102):
            drive_through_obstacles(reused, seed)
            reused.clear_obstacles()
        assert drive_through_obstacles(reused, 0) == expected


def test_step_watching_contacts_moves_obstacles_and_keeps_the_latest_touch(world):
    tip = forward_kinematics(np.array([0.0, 0.3, 0.2, 0.3]))[:3]
    world.reset_joints([0.0, 0.3, 0.2, 0.3])
    world.add_obstacle("ball", "sphere", (0.03,), tip + [0.0, 0.0, 0.3])
    path = tip + np.linspace([0.0, 0.0, 0.3], [0.0, 0.0, 0.0], 12)  # down onto the gripper
    contacts = world.step_watching_contacts(12, [("ball", path, (0.0, 0.0, 0.0, 1.0))])[0]
    np.testing.assert_allclose(world.body_pose("ball")[0], path[-1])
    assert contacts and {contact.body for contact in contacts} == {"ball"}
    assert contacts == world.contacts()  # the last substep touched, so it is the one returned
    away = np.tile(tip + [0.0, 0.0, 0.3], (12, 1))
    assert world.step_watching_contacts(12, [("ball", away, (0.0, 0.0, 0.0, 1.0))]) == ([], [])


def test_pair_clearance_is_the_smallest_closest_point_distance(world):
    world.reset_joints([0.2, 0.1, 0.3, 0.4])
    tip = forward_kinematics(np.array([0.2, 0.1, 0.3, 0.4]))[:3]
    world.add_obstacle("ball", "sphere", (0.02,), tip + [0.0, 0.0, 0.06])
    world.add_obstacle("box", "box", (0.02, 0.02, 0.02), tip + [0.0, 0.08, 0.0])
    pairs = [(link, body) for link in ("link4", "link5", "gripper_left_link") for body in ("ball", "box")]
    points = world.closest_points(0.2, pairs=pairs)
    assert points and world.pair_clearance(pairs, 0.2) == min(point.distance_m for point in points)
    assert world.pair_clearance([("link2", "ball")], 0.001) == math.inf
    with pytest.raises(UnknownNameError, match="valid choices"):
        world.pair_clearance([("link9", "ball")])


def test_clear_obstacles_can_keep_the_markers(world):
    world.add_marker("marker:goal", (0.2, 0.0, 0.1))
    world.add_obstacle("ball", "sphere", (0.03,), (0.2, 0.1, 0.1))
    world.clear_obstacles(keep_markers=True)
    assert world.obstacle_names() == ["marker:goal"] and world.has_body("marker:goal")
    with pytest.raises(InvalidInputError, match="already exists"):
        world.add_marker("marker:goal", (0.0, 0.0, 0.1))
    world.clear_obstacles()
    assert world.obstacle_names() == [] and world.has_body("table")


def test_a_world_without_a_renderer_steps_the_same_and_refuses_to_draw():
    """renderer='none' (an env without a render mode): the same physics, contacts and closest
    points as a drawing world, bodies without drawing meshes, and a clear refusal to render."""
    results = []
    for renderer in ("tiny", "none"):
        with World(renderer=renderer) as world:
            world.add_obstacle("ball", "sphere", (0.04,), (0.2, 0.0, 0.15))
            world.add_obstacle("post", "cylinder", (0.02, 0.1), (0.1, 0.15, 0.1))
            world.set_position_targets([0.3, 0.6, 0.2, -0.4])
            contacts = world.step_watching_contacts(60)[0]
            results.append((world.joint_state()[0].tobytes(), world.joint_state()[1].tobytes(),
                            [(c.link, c.body, c.distance_m) for c in contacts],
                            [(p.link, p.body, p.distance_m) for p in world.closest_points(0.5)]))
            if renderer == "none":
                with pytest.raises(InvalidInputError, match="draws nothing.*render_mode='rgb_array'"):
                    world.render(64, 48)
    assert results[0] == results[1]
    assert results[0][2], "the arm must touch the ball so contacts are compared"


def test_a_world_without_contact_forces_has_rigid_closed_fingers_and_the_same_arm(tmp_path):
    """The rigid-finger URDF is the shipped one with the finger joints fixed (regenerated here, equal
    byte for byte); its world simulates 4 degrees of freedom, keeps the joint and link indices, puts
    the fingers' links where a closed gripper has them, and refuses to open them."""
    import shutil

    import assets
    from sim.robot.geometry_fit import write_rigid_finger_urdf

    source = tmp_path / "arm.urdf"
    shutil.copy(assets.urdf_path(), source)
    write_rigid_finger_urdf(source, tmp_path / "rigid.urdf")
    assert (tmp_path / "rigid.urdf").read_text() == assets.urdf_path(rigid_fingers=True).read_text()

    forced, rigid = World(contact_forces=True), World(contact_forces=False)
    try:
        assert not forced.rigid_fingers and rigid.rigid_fingers
        assert rigid.link_names() == forced.link_names() and rigid.gripper_joints == forced.gripper_joints
        moving = [sum(pybullet.getJointInfo(world.robot, index, physicsClientId=world.client_id)[2]
                      != pybullet.JOINT_FIXED for index in range(pybullet.getNumJoints(world.robot,
                                                                                       physicsClientId=world.client_id)))
                  for world in (forced, rigid)]
        assert moving == [6, 4]
        q = np.array([0.4, -0.6, 0.5, 0.3])
        for world in (forced, rigid):
            world.reset_joints(q)
        for link in ("gripper_left_link", "gripper_right_link", "link5"):
            index = forced._link_index[link]
            here = [pybullet.getLinkState(world.robot, index, physicsClientId=world.client_id)[4]
                    for world in (forced, rigid)]
            np.testing.assert_allclose(here[0], here[1], atol=1e-9)
        rigid.reset_gripper(0.0)
        with pytest.raises(InvalidInputError, match="rigid"):
            rigid.reset_gripper(0.01)
        with pytest.raises(InvalidInputError, match="rigid"):
            rigid.reset_joints(q, gripper_m=0.01)
        forced.reset_gripper(0.01)  # a world with contact forces still opens them
        assert forced.gripper_position() == pytest.approx(0.01)
    finally:
        forced.close()
        rigid.close()
