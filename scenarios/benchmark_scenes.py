"""The ``benchmark`` scenario's ten fixed scenes, frozen as data.

They were drawn once from the ``cluttered`` scenario (seeds in the comments; positions and joints
rounded to 0.1 mm / 0.1 mrad), keeping scenes whose straight joint-space path collides by more
than 5 mm, with 2, 3, 4, 5, 2, 3, 4, 5, 3 and 4 obstacles. Being data, they do not change when
the sampler does; ``tests/scenarios`` checks each against the scene rules.
"""

from __future__ import annotations

from sim.scene import Obstacle, Scene

BENCHMARK_SCENES: tuple[Scene, ...] = (
    Scene(  # cluttered sample, seed 2
        obstacles=(
            Obstacle("cylinder_0", "cylinder", (0.0223, 0.0548), (0.1002, -0.1294, 0.1917),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_1", "sphere", (0.0367,), (-0.1648, 0.1861, 0.1075),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(0.7852, -1.0721, 0.9075, 0.342),
        goal_joints=(-1.6368, -0.4867, 0.9587, -1.1693),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 6
        obstacles=(
            Obstacle("sphere_0", "sphere", (0.0266,), (0.0854, 0.111, 0.1214),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("cylinder_1", "cylinder", (0.0266, 0.0327), (0.0758, 0.1345, 0.0505),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("cylinder_2", "cylinder", (0.0295, 0.0568), (-0.0492, -0.2592, 0.2657),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(1.6573, 0.4452, 0.3184, -0.4111),
        goal_joints=(-1.309, -0.2715, 0.7746, 0.3116),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 11
        obstacles=(
            Obstacle("box_0", "box", (0.0177, 0.0162, 0.0237), (0.1946, -0.1202, 0.1743),
                     (0.0, 0.0, -0.9571712985732863, 0.2895222015451127)),
            Obstacle("box_1", "box", (0.0343, 0.0291, 0.0183), (0.1605, 0.3097, 0.1851),
                     (0.0, 0.0, -0.8488465662826647, 0.5286392975461904)),
            Obstacle("box_2", "box", (0.0187, 0.0304, 0.0344), (0.1501, 0.1657, 0.1026),
                     (0.0, 0.0, 0.4943803486969015, 0.8692456907125453)),
            Obstacle("cylinder_3", "cylinder", (0.0361, 0.0577), (0.0404, 0.3116, 0.0191),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-1.1598, 0.1782, 0.1247, 0.7864),
        goal_joints=(0.2368, 0.3037, -1.1774, 1.4036),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 17
        obstacles=(
            Obstacle("cylinder_0", "cylinder", (0.0389, 0.0346), (0.2218, -0.0077, 0.0677),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("cylinder_1", "cylinder", (0.0388, 0.0559), (0.1744, 0.0306, 0.1453),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_2", "sphere", (0.0288,), (0.2171, 0.0431, 0.1832),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_3", "box", (0.02, 0.018, 0.0253), (0.057, 0.2929, 0.0348),
                     (0.0, 0.0, -0.47569074433490993, 0.8796125941311319)),
            Obstacle("cylinder_4", "cylinder", (0.0213, 0.045), (0.2114, -0.2594, 0.0856),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-0.6183, 0.148, 0.1235, 1.2118),
        goal_joints=(0.8194, -0.2097, 0.4621, -0.0778),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 28
        obstacles=(
            Obstacle("box_0", "box", (0.0299, 0.0178, 0.0266), (0.1032, 0.1709, 0.2535),
                     (0.0, 0.0, -0.8611229740440827, 0.5083967186887364)),
            Obstacle("box_1", "box", (0.0231, 0.0327, 0.0286), (-0.152, -0.2385, 0.2247),
                     (0.0, 0.0, 0.8636391251553054, 0.5041105647583463)),
        ),
        start_joints=(1.0769, -1.0109, 1.0102, -0.3658),
        goal_joints=(1.4557, 0.1068, -0.3888, -0.1649),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 29
        obstacles=(
            Obstacle("sphere_0", "sphere", (0.0313,), (0.0962, -0.185, 0.1695),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_1", "sphere", (0.0256,), (0.1062, -0.2519, 0.2244),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_2", "box", (0.035, 0.0205, 0.0173), (0.134, -0.3262, 0.1752),
                     (0.0, 0.0, -0.5443393824579097, 0.8388650885007324)),
        ),
        start_joints=(-1.5298, 0.1164, -0.0538, -0.6248),
        goal_joints=(-0.6868, 0.4725, 0.0838, -1.2653),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 30
        obstacles=(
            Obstacle("cylinder_0", "cylinder", (0.0323, 0.0521), (0.3027, 0.0138, 0.1636),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("cylinder_1", "cylinder", (0.032, 0.0779), (0.3071, 0.0024, 0.1689),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_2", "sphere", (0.0269,), (-0.0213, 0.1406, 0.2844),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_3", "sphere", (0.0399,), (-0.0389, 0.1423, 0.3165),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-0.344, 0.3382, -0.6996, 0.6256),
        goal_joints=(0.9232, 0.7074, 0.2899, -1.1711),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 36
        obstacles=(
            Obstacle("cylinder_0", "cylinder", (0.0232, 0.0383), (0.1553, -0.1002, 0.1923),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_1", "box", (0.0188, 0.0228, 0.0195), (0.1169, -0.0954, 0.1953),
                     (0.0, 0.0, 0.7672435644317392, 0.6413558394823264)),
            Obstacle("box_2", "box", (0.0292, 0.0326, 0.0179), (0.2072, 0.2336, 0.1847),
                     (0.0, 0.0, 0.9095174324486707, 0.41566577928905546)),
            Obstacle("cylinder_3", "cylinder", (0.0385, 0.067), (0.2401, -0.1395, 0.0627),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_4", "box", (0.0271, 0.0244, 0.0297), (0.1238, -0.117, 0.2087),
                     (0.0, 0.0, -0.829997662324347, 0.5577668693424872)),
        ),
        start_joints=(-1.0858, -0.1646, 0.8452, -0.1688),
        goal_joints=(-0.3473, -0.4525, -0.589, 1.6194),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 37
        obstacles=(
            Obstacle("sphere_0", "sphere", (0.0251,), (0.2009, -0.057, 0.257),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("cylinder_1", "cylinder", (0.0272, 0.0351), (0.1146, 0.2958, 0.1191),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("sphere_2", "sphere", (0.037,), (-0.0515, -0.1389, 0.2923),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(0.6941, 0.5203, -1.1344, 0.8192),
        goal_joints=(-0.8712, -0.3934, -0.4539, 1.1212),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 38
        obstacles=(
            Obstacle("sphere_0", "sphere", (0.0317,), (0.1811, 0.0889, 0.1441),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_1", "box", (0.0179, 0.0154, 0.0191), (0.2028, 0.0473, 0.1131),
                     (0.0, 0.0, -0.7871951623524004, 0.6167039616939217)),
            Obstacle("sphere_2", "sphere", (0.0236,), (-0.1572, -0.2674, 0.0861),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle("box_3", "box", (0.02, 0.0252, 0.0152), (-0.0377, 0.3764, 0.2335),
                     (0.0, 0.0, 0.5804677392405341, 0.8142832453765602)),
        ),
        start_joints=(-0.0484, -0.5507, 0.4289, 0.5942),
        goal_joints=(0.7345, -0.132, 0.9426, -0.5209),
        scenario="benchmark",
    ),
)
