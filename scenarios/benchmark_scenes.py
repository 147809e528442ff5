"""The ``benchmark`` scenario's ten fixed scenes, frozen as data.

Written by ``python -m scenarios.make_benchmark_scenes`` (see there how they are drawn): scenes of
the ``cluttered`` scenario (seeds in the comments) whose straight joint-space path collides by more
than 5 mm, with 2, 3, 4, 5, 2, 3, 4, 5, 3, 4 obstacles. Being data, they do not change
when the sampler does; ``tests/scenarios`` checks each against the scene rules.
"""

from __future__ import annotations

from sim.scene.obstacles import Obstacle, Scene

BENCHMARK_SCENES: tuple[Scene, ...] = (
    Scene(  # cluttered sample, seed 2
        obstacles=(
            Obstacle('cylinder_0', 'cylinder', (0.0357, 0.0481), (0.1995, 0.0721, 0.1903),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('box_1', 'box', (0.0188, 0.0331, 0.0333), (0.272, -0.0163, 0.1263),
                     (0.0, 0.0, 0.7546518729933714, 0.656125407668074)),
        ),
        start_joints=(1.5221, -0.1989, 0.7585, 0.1137),
        goal_joints=(-0.9191, -0.0225, -0.4368, 0.3489),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 6
        obstacles=(
            Obstacle('box_0', 'box', (0.0219, 0.0266, 0.028), (0.1449, 0.0477, 0.134),
                     (0.0, 0.0, 0.9596320290820828, 0.2812585443320871)),
            Obstacle('cylinder_1', 'cylinder', (0.0266, 0.0327), (0.0758, 0.1345, 0.0505),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_2', 'cylinder', (0.0295, 0.0568), (-0.0492, -0.2592, 0.2657),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(1.6573, 0.4452, 0.3184, -0.4111),
        goal_joints=(-1.309, -0.2715, 0.7746, 0.3116),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 11
        obstacles=(
            Obstacle('box_0', 'box', (0.0177, 0.0162, 0.0237), (0.2167, -0.0799, 0.1759),
                     (0.0, 0.0, -0.9571712985732863, 0.2895222015451127)),
            Obstacle('box_1', 'box', (0.0343, 0.0291, 0.0183), (0.1605, 0.3097, 0.1851),
                     (0.0, 0.0, -0.8488465662826647, 0.5286392975461904)),
            Obstacle('box_2', 'box', (0.0187, 0.0304, 0.0344), (0.1501, 0.1657, 0.1026),
                     (0.0, 0.0, 0.4943803486969015, 0.8692456907125453)),
            Obstacle('cylinder_3', 'cylinder', (0.0361, 0.0577), (0.0404, 0.3116, 0.0191),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-1.1598, 0.1782, 0.1247, 0.7864),
        goal_joints=(0.2368, 0.3037, -1.1774, 1.4036),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 17
        obstacles=(
            Obstacle('sphere_0', 'sphere', (0.0235,), (0.1946, 0.0478, 0.1139),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_1', 'cylinder', (0.0373, 0.0566), (0.1994, 0.0286, 0.1695),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_2', 'sphere', (0.0288,), (0.2171, 0.0431, 0.1832),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('box_3', 'box', (0.02, 0.018, 0.0253), (0.057, 0.2929, 0.0348),
                     (0.0, 0.0, -0.47569074433490993, 0.8796125941311319)),
            Obstacle('cylinder_4', 'cylinder', (0.0213, 0.045), (0.2114, -0.2594, 0.0856),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-0.6183, 0.148, 0.1235, 1.2118),
        goal_joints=(0.8194, -0.2097, 0.4621, -0.0778),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 47
        obstacles=(
            Obstacle('cylinder_0', 'cylinder', (0.0203, 0.0717), (0.2687, 0.1119, 0.1519),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_1', 'sphere', (0.0383,), (-0.0116, -0.1274, 0.3058),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(0.8221, 0.7595, -0.1836, -1.1577),
        goal_joints=(-0.7223, -0.0712, 0.1827, 0.7117),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 50
        obstacles=(
            Obstacle('cylinder_0', 'cylinder', (0.0285, 0.0716), (0.2346, 0.0258, 0.2842),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_1', 'sphere', (0.0246,), (0.2539, -0.0461, 0.0948),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_2', 'sphere', (0.0299,), (0.085, -0.2315, 0.0683),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-0.8948, 0.482, -1.1439, 0.3334),
        goal_joints=(1.4172, -0.7972, 0.7115, 0.8564),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 52
        obstacles=(
            Obstacle('box_0', 'box', (0.0241, 0.0168, 0.0193), (0.1753, -0.0722, 0.228),
                     (0.0, 0.0, -0.6890214344656141, 0.7247409625838375)),
            Obstacle('sphere_1', 'sphere', (0.0371,), (0.1839, -0.105, 0.2468),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_2', 'cylinder', (0.0212, 0.0341), (0.1185, 0.1948, 0.1294),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_3', 'sphere', (0.0247,), (-0.1552, 0.2447, 0.0041),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-1.3058, -0.3417, -0.0472, 0.4771),
        goal_joints=(0.0231, 0.0383, 0.2142, -0.2421),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 53
        obstacles=(
            Obstacle('box_0', 'box', (0.0175, 0.0263, 0.0187), (0.2585, -0.1799, 0.148),
                     (0.0, 0.0, 0.4260348706900343, 0.9047067419645582)),
            Obstacle('cylinder_1', 'cylinder', (0.0308, 0.0317), (0.2125, -0.1731, 0.1254),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_2', 'sphere', (0.0278,), (0.0693, 0.3701, 0.1263),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('box_3', 'box', (0.0349, 0.0244, 0.0165), (0.2382, -0.0114, 0.3084),
                     (0.0, 0.0, -0.8558497376656915, 0.5172245417007656)),
            Obstacle('cylinder_4', 'cylinder', (0.0203, 0.0614), (-0.0108, -0.3037, 0.1327),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(-1.1067, -0.1265, -0.1492, 0.5163),
        goal_joints=(-0.2745, 0.9358, -1.029, 0.9787),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 61
        obstacles=(
            Obstacle('sphere_0', 'sphere', (0.0302,), (0.1766, 0.1819, 0.1399),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_1', 'cylinder', (0.0293, 0.0589), (0.2241, -0.3025, 0.1745),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_2', 'cylinder', (0.0359, 0.0476), (0.2199, -0.1494, 0.1349),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(0.3336, 0.1021, 0.876, -1.2749),
        goal_joints=(1.379, 0.4301, -0.2823, 0.0384),
        scenario="benchmark",
    ),
    Scene(  # cluttered sample, seed 64
        obstacles=(
            Obstacle('sphere_0', 'sphere', (0.0201,), (0.1295, -0.0387, 0.164),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('cylinder_1', 'cylinder', (0.0346, 0.0436), (0.2615, 0.251, 0.2368),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_2', 'sphere', (0.0383,), (0.0352, 0.1659, 0.3462),
                     (0.0, 0.0, 0.0, 1.0)),
            Obstacle('sphere_3', 'sphere', (0.0365,), (0.2767, -0.1707, 0.1831),
                     (0.0, 0.0, 0.0, 1.0)),
        ),
        start_joints=(0.6589, -1.0772, 1.0039, 0.3446),
        goal_joints=(-1.2887, -0.1361, 0.7967, -1.1656),
        scenario="benchmark",
    ),
)
