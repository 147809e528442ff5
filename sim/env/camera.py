"""Cameras and renderers for PyBullet frames, importable without PyBullet (e.g. for ``--help``).

:mod:`sim.env.world` renders with them; the command line lists their names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Camera:
    """A look-at camera given by its target, distance and angles (degrees), as PyBullet's GUI."""

    target: tuple[float, float, float] = (0.14, 0.0, 0.10)
    distance_m: float = 0.58
    yaw_deg: float = 50.0
    pitch_deg: float = -30.0
    fov_deg: float = 50.0

    def orbit(self, yaw_offset_deg: float) -> Camera:
        """The same camera turned about the vertical axis through its target."""
        return Camera(self.target, self.distance_m, self.yaw_deg + yaw_offset_deg, self.pitch_deg, self.fov_deg)


#: Camera presets by name (``orbit`` is ``front`` turned a little each frame by the caller).
CAMERA_PRESETS: dict[str, Camera] = {
    "front": Camera(yaw_deg=50.0, pitch_deg=-30.0),
    "side": Camera(yaw_deg=0.0, pitch_deg=-12.0, distance_m=0.62),
    "top": Camera(yaw_deg=90.0, pitch_deg=-89.0, distance_m=0.7, target=(0.14, 0.0, 0.0)),
    "orbit": Camera(yaw_deg=50.0, pitch_deg=-30.0),
}


#: Camera renderers: PyBullet's TinyRenderer (CPU, everywhere) and its OpenGL renderer through
#: the ``eglRenderer`` plugin (headless; a GPU's EGL driver, or Mesa's llvmpipe on the CPU).
RENDERERS: tuple[str, ...] = ("tiny", "egl")
#: A world that draws nothing: PyBullet's TinyRenderer unloaded, so a new obstacle body costs no
#: drawing mesh (a sphere ~66 us to create instead of ~220 us); what an env with no render mode uses.
NO_RENDERER = "none"
#: What a world accepts: a renderer of :data:`RENDERERS` or :data:`NO_RENDERER`.
WORLD_RENDERERS: tuple[str, ...] = (*RENDERERS, NO_RENDERER)

__all__ = ["CAMERA_PRESETS", "Camera", "NO_RENDERER", "RENDERERS", "WORLD_RENDERERS"]
