"""The arm's model, one room: kinematics (NumPy and torch through one ops object), the real arm's geometry
(ROBOTIS' meshes, the SRDF's self-collision pairs), the sphere bound fitted to it (fitting, batched distances,
the compiled kernels), the obstacle kinds those distances take, and pose transforms.

Imports nothing of :mod:`sim.scene` or :mod:`sim.env` (the layering ``sim.env -> sim.scene -> sim.robot``;
``tests/test_architecture.py`` checks it). The obstacle kinds live here, not in the scene, because the sphere
distances and their kernels take them: they are primitive shapes, and putting them above would make the bound
import the scene.
"""
