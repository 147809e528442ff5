"""What a user hands the obstacle-reach env, checked: constructor keyword arguments, ``reset``'s seed and
options. (``step``'s action is checked where it is mapped to joint targets, :mod:`sim.env.env_spaces`.)

Each check returns the value normalised (a Python ``bool``, ``int``, ``float`` or ``str``) or raises the
project's :class:`~sim.errors.InvalidInputError` with one line naming the argument, the value and what is
valid: a string is never a number or a flag (``"false"`` is refused, not taken as True), a bool is never a
number, a fractional count is refused rather than truncated, a number must be finite and within a stated,
physically meaningful range, and an unknown keyword gets the valid ones and the closest of them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from sim.env.camera import CAMERA_PRESETS, Camera
from sim.errors import InvalidInputError, UnknownNameError, invalid_value, show_value

#: The largest frame side (pixels) an env renders: 4096 x 4096 RGB is 48 MB a frame.
MAX_RENDER_SIDE: int = 4096
#: The longest truncation an env takes (steps; about 14 simulated hours at 20 Hz). ``None``: never truncate.
MAX_EPISODE_STEPS: int = 1_000_000
#: Bounds of the reward's parameters (see :class:`sim.env.env_spaces.RewardSpec`): success within
#: (0, 1] m (the arm reaches ~0.4 m) and (0, pi] rad (the largest rotation error there is); the orientation
#: weight in [0, 10] m per rad and the collision penalty in [0, 1000] per step.
MAX_SUCCESS_DISTANCE_M: float = 1.0
MAX_ORIENTATION_WEIGHT_M_PER_RAD: float = 10.0
MAX_COLLISION_PENALTY: float = 1000.0
#: Reset options and what each holds.
RESET_OPTIONS: tuple[str, ...] = ("scene", "scene_index")


def check_flag(name: str, value: Any) -> bool:
    """``value`` as a bool: only ``True`` or ``False`` (NumPy's too); never a string, a number or None."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise invalid_value(name, value, "True or False")


def check_count(name: str, value: Any, low: int, high: int) -> int:
    """``value`` as an int within ``[low, high]``: an integer (NumPy's too), never a bool, a float or a string."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)) and low <= int(value) <= high:
        return int(value)
    raise invalid_value(name, value, f"an integer within [{low}, {high}]")


def check_number(name: str, value: Any, low: float, high: float, *, low_open: bool = False, unit: str = "") -> float:
    """``value`` as a float: a finite real number (NumPy's too; never a bool or a string) within
    ``[low, high]``, or ``(low, high]`` with ``low_open``."""
    number = _finite(value)
    if number is not None and (low < number if low_open else low <= number) and number <= high:
        return number
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
    raise invalid_value(name, value, f"a finite number within {interval}{' ' + unit if unit else ''}")


def _finite(value: Any) -> float | None:
    """``value`` as a finite float, or None if it is not a finite real number (or is a bool)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        return None
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return None
    return number if math.isfinite(number) else None


def check_choice(kind: str, value: Any, choices: Iterable[str]) -> str:
    """``value`` as one of ``choices`` (a string); else :class:`UnknownNameError` listing them."""
    choices = tuple(choices)
    if isinstance(value, str) and value in choices:
        return str(value)
    raise UnknownNameError(kind, value, choices)


def check_keywords(what: str, given: Iterable[str], valid: Iterable[str]) -> None:
    """Refuse a keyword of ``given`` that is not in ``valid``, naming the valid ones and the closest."""
    valid = tuple(valid)
    for name in given:
        if name not in valid:
            raise UnknownNameError(what, name, valid)


def check_camera(value: Any) -> Camera | str:
    """A :class:`~sim.env.camera.Camera` with finite fields (distance > 0 m, field of view in (0, 180) deg),
    or a preset name of :data:`~sim.env.camera.CAMERA_PRESETS`."""
    if isinstance(value, str):
        return check_choice("camera preset", value, CAMERA_PRESETS)
    if not isinstance(value, Camera):
        raise invalid_value("camera", value, f"a sim.env.camera.Camera or a preset name ({', '.join(CAMERA_PRESETS)})")
    target = value.target.tolist() if hasattr(value.target, "tolist") else value.target
    if (not isinstance(target, (tuple, list)) or len(target) != 3
            or any(_finite(coordinate) is None for coordinate in target)):
        raise invalid_value("camera target", target, "3 finite coordinates (m)")
    check_number("camera distance_m", value.distance_m, 0.0, 100.0, low_open=True, unit="m")
    check_number("camera yaw_deg", value.yaw_deg, -3600.0, 3600.0, unit="deg")
    check_number("camera pitch_deg", value.pitch_deg, -90.0, 90.0, unit="deg")
    fov = _finite(value.fov_deg)
    if fov is None or not 0.0 < fov < 180.0:
        raise invalid_value("camera fov_deg", value.fov_deg, "a finite number within (0, 180) deg")
    return value


def check_control_frequency(value: Any, physics_hz: float) -> tuple[float, int]:
    """The control frequency (Hz) as a float and the physics substeps per control step: it must divide
    ``physics_hz``."""
    frequency = _finite(value)
    substeps = physics_hz / frequency if frequency is not None and frequency > 0 else math.nan
    if not (math.isfinite(substeps) and substeps >= 1 and abs(substeps - round(substeps)) < 1e-9):
        raise InvalidInputError(f"control_frequency_hz must divide {physics_hz:g} Hz (e.g. 10, 20, 30, 60), "
                                f"got {show_value(value)}")
    return frequency, int(round(substeps))


def check_seed(seed: Any) -> int | None:
    """``reset``'s seed: None or a non-negative integer (NumPy's too), as a Python int (Gymnasium takes those)."""
    if seed is None:
        return None
    if isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return int(seed)
    raise InvalidInputError(f"seed must be a non-negative integer or None, got {show_value(seed)}")


def check_reset_options(options: Any) -> None:
    """``reset``'s options: None or a dict with at most one of :data:`RESET_OPTIONS` (whose values
    :func:`sim.scene.scene_sampling.scene_for_episode` checks)."""
    if options is None:
        return
    if not isinstance(options, dict):
        raise invalid_value("reset options", options, f"a dict with one of {', '.join(RESET_OPTIONS)}, or None")
    for key in options:
        if not isinstance(key, str) or key not in RESET_OPTIONS:
            raise UnknownNameError("reset option", key, RESET_OPTIONS)
    if len(options) > 1:
        raise InvalidInputError(f"reset options: give one of {', '.join(RESET_OPTIONS)}, not both")


__all__ = [
    "MAX_COLLISION_PENALTY", "MAX_EPISODE_STEPS", "MAX_ORIENTATION_WEIGHT_M_PER_RAD", "MAX_RENDER_SIDE",
    "MAX_SUCCESS_DISTANCE_M", "RESET_OPTIONS", "check_camera", "check_choice", "check_control_frequency",
    "check_count", "check_flag", "check_keywords", "check_number", "check_reset_options", "check_seed",
]
