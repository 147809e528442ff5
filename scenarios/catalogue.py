"""The built-in scenarios, as data.

Every scenario samples goals as joint configurations (reachable by construction) within a common
workspace in front of and beside the robot, and places obstacles on the arm's straight
joint-space path from start to goal, so the naive path is blocked in most episodes
(``python benchmarks/scenario_stats.py`` measures how often).
"""

from __future__ import annotations

from scenarios.benchmark_scenes import BENCHMARK_SCENES
from sim.robot.kinematics import HOME_CONFIGURATION
from sim.robot.obstacle_kinds import OBSTACLE_KINDS
from sim.scene.scenario_spec import (
    ConfigurationSpec,
    GateSpec,
    MotionSpec,
    ObstacleGroup,
    Region,
    ScenarioSpec,
    ShelfSpec,
)

_HOME = tuple(float(v) for v in HOME_CONFIGURATION)
#: Obstacle centres: in front of and beside the robot, away from the base, within reach.
REGION = Region(radius_m=(0.1, 0.38), yaw_rad=(-2.3, 2.3), z_m=(0.0, 0.35))
#: Goals (and random starts): the end effector 0.14-0.34 m out, up to 0.30 m high.
WORKSPACE = ConfigurationSpec(
    joint_low=(-1.7, -1.2, -1.3, -1.5), joint_high=(1.7, 1.4, 1.1, 1.8), ee_radius_m=(0.14, 0.34), ee_z_m=(0.03, 0.3)
)
#: ROBOTIS' home configuration, turned to a random heading.
HOME_ANY_HEADING = ConfigurationSpec(joint_low=(-1.7,) + _HOME[1:], joint_high=(1.7,) + _HOME[1:])
HOME = ConfigurationSpec(joint_low=_HOME, joint_high=_HOME)  # type: ignore[arg-type]

_MIXED = OBSTACLE_KINDS  # every kind

BUILTIN_SCENARIOS: dict[str, ScenarioSpec] = {
    spec.name: spec
    for spec in (
        ScenarioSpec(
            name="empty",
            description="No obstacles: home start, random reachable goal (accuracy and speed baseline).",
            region=REGION, start=HOME, goal=WORKSPACE,
        ),
        ScenarioSpec(
            name="single",
            description="One sphere, box or cylinder on the straight path from a random start to a random goal.",
            region=REGION, start=WORKSPACE, goal=WORKSPACE,
            obstacles=(ObstacleGroup(kinds=_MIXED, count=(1, 1), radius_m=(0.025, 0.045),
                                     half_extent_m=(0.02, 0.04), path_jitter_m=0.015),),
        ),
        ScenarioSpec(
            name="cluttered",
            description="2-5 random obstacles: 1-2 on the straight path, the rest anywhere in reach.",
            region=REGION, start=WORKSPACE, goal=WORKSPACE,
            obstacles=(
                ObstacleGroup(kinds=_MIXED, count=(1, 2), path_jitter_m=0.02),
                ObstacleGroup(kinds=_MIXED, count=(1, 3), placement="uniform"),
            ),
        ),
        ScenarioSpec(
            name="narrow",
            description="Two posts leave a 16.5-18.5 cm gap (12-22 mm either side of the gripper) to pass "
                        "through.",
            region=Region(radius_m=(0.08, 0.4), yaw_rad=(-3.14159, 3.14159), z_m=(0.0, 0.35)),
            start=HOME_ANY_HEADING,
            goal=ConfigurationSpec(joint_low=WORKSPACE.joint_low, joint_high=WORKSPACE.joint_high,
                                   ee_radius_m=(0.24, 0.34), ee_z_m=(0.03, 0.2)),
            gate=GateSpec(),
        ),
        ScenarioSpec(
            name="shelf",
            description="The goal lies inside an open shelf facing the base; reach in, roughly level.",
            region=Region(radius_m=(0.08, 0.45), yaw_rad=(-3.14159, 3.14159), z_m=(0.0, 0.4)),
            start=HOME_ANY_HEADING,
            goal=ConfigurationSpec(joint_low=WORKSPACE.joint_low, joint_high=WORKSPACE.joint_high,
                                   pitch_rad=(-0.25, 0.35), ee_radius_m=(0.2, 0.32), ee_z_m=(0.08, 0.24)),
            shelf=ShelfSpec(),
        ),
        ScenarioSpec(
            name="dynamic",
            description="2-3 obstacles oscillating across the straight path (seeded directions, amplitudes, periods).",
            region=REGION, start=WORKSPACE, goal=WORKSPACE,
            obstacles=(
                ObstacleGroup(kinds=("sphere", "box"), count=(1, 2), radius_m=(0.02, 0.035),
                              half_extent_m=(0.015, 0.03), motion=MotionSpec("linear", (0.03, 0.07), (2.0, 5.0))),
                ObstacleGroup(kinds=("sphere",), count=(1, 1), radius_m=(0.02, 0.035),
                              motion=MotionSpec("circular", (0.03, 0.06), (3.0, 6.0))),
            ),
        ),
        ScenarioSpec(
            name="benchmark",
            description="Ten fixed scenes with 2-5 obstacles each, every one blocking the straight path "
                        "(deterministic; the default for comparisons).",
            region=REGION, start=WORKSPACE, goal=WORKSPACE, fixed_scenes=BENCHMARK_SCENES,
        ),
    )
}
