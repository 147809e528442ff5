"""Episode videos: PyBullet camera frames with overlays, side-by-side comparisons, MP4 writing.

Frames are rendered at a fixed frame rate of simulated time (TinyRenderer on the CPU by
default), with the goal drawn as a marker, the end-effector path as a trace, and overlays:
policy, step, goal error (mm), clearance (mm, red under the safety margin) and a red flash on
contact. An optional attribution panel shows, per joint, a bar chart of the Shapley values of
the 7 pose features for the commanded target. MP4 is H.264 / yuv420p (plays in browsers), via
imageio-ffmpeg; GIF with a warning where ffmpeg is missing.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from agents.ik_policy.safety import SAFETY_MARGIN_M
from evaluation.config import RunConfig
from evaluation.explain.core import FEATURE_NAMES
from evaluation.metrics import StepRecord
from evaluation.runner import EpisodeWorker
from evaluation.schema import VIDEOS_DIR
from sim.env.camera import CAMERA_PRESETS
from sim.robot.kinematics import clamp_to_limits, forward_kinematics

_RED, _GREEN, _WHITE, _BLACK = (220, 40, 40), (40, 170, 70), (255, 255, 255), (20, 20, 20)


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


@dataclass
class FrameRecorder:
    """An episode observer (see ``EpisodeWorker.run``) that renders frames at ``fps``.

    Every frame, the first (the start state) included, carries the overlay: policy, step and
    time, goal error (mm) and clearance (mm, red under ``margin_m``), and a red border on contact.

    Args:
        policy: shown in the overlay.
        width, height: frame size (pixels; the attribution panel adds :data:`PANEL_WIDTH`).
        fps: frames per second of simulated time.
        camera: a ``sim.env.camera.CAMERA_PRESETS`` name; ``"orbit"`` turns 20 degrees per second.
        margin_m: clearance under which the clearance overlay turns red.
        explain: optional ``(joints-target pose (7,)) -> (7, 4)`` attributions for the panel.
    """

    policy: str
    width: int = 640
    height: int = 480
    fps: float = 10.0
    camera: str = "front"
    margin_m: float = SAFETY_MARGIN_M
    explain: Callable[[np.ndarray], np.ndarray] | None = None
    frames: list[np.ndarray] = field(default_factory=list)
    _path: list[np.ndarray] = field(default_factory=list)
    _next_time: float = 0.0

    def __call__(self, step: int, env: Any, record: StepRecord) -> None:
        self._path.append(forward_kinematics(env.joint_positions(), validate=False)[:3])
        if record.time_s + 1e-9 < self._next_time:
            return
        self._next_time = record.time_s + 1.0 / self.fps
        self.frames.append(self.render(env, record))

    def render(self, env: Any, record: StepRecord) -> np.ndarray:
        """The (height, width [+ panel], 3) uint8 frame of ``env``'s current state with its overlay."""
        camera = CAMERA_PRESETS[self.camera]
        if self.camera == "orbit":
            camera = camera.orbit(20.0 * record.time_s)
        world = env.world
        image = Image.fromarray(world.render(self.width, self.height, camera))
        draw = ImageDraw.Draw(image, "RGBA")
        path = world.project(np.array(self._path), self.width, self.height, camera)
        if len(path) > 1:
            draw.line([tuple(p) for p in path], fill=(30, 110, 230), width=2)
        goal = world.project(np.asarray(env.goal_pose[:3]), self.width, self.height, camera)[0]
        draw.ellipse([goal[0] - 6, goal[1] - 6, goal[0] + 6, goal[1] + 6], outline=_GREEN, width=2)
        self._overlay(draw, record)
        if record.contact_count > 0:
            draw.rectangle([0, 0, self.width - 1, self.height - 1], outline=_RED, width=8)
        if self.explain is not None:
            pose = forward_kinematics(clamp_to_limits(np.asarray(record.target_joints_rad)))
            image = _with_panel(image, self.explain(pose))
        return np.asarray(image)

    def _overlay(self, draw: ImageDraw.ImageDraw, record: StepRecord) -> None:
        font = _font(max(14, self.height // 28))
        clearance = ("clearance: no obstacle" if not math.isfinite(record.min_clearance_m)
                     else f"clearance {1e3 * record.min_clearance_m:.1f} mm")
        lines = [
            (self.policy, _WHITE),
            (f"step {record.step + 1}  t={record.time_s:.2f} s", _WHITE),
            (f"goal error {1e3 * record.target_error_m:.1f} mm", _WHITE),
            (clearance, _RED if record.min_clearance_m < self.margin_m else _WHITE),
        ]
        if record.collided:
            lines.append(("CONTACT", _RED))
        line_height = font.size + 4 if hasattr(font, "size") else max(16, self.height // 24)
        width = max(draw.textlength(text, font=font) for text, _ in lines)
        draw.rectangle([4, 4, 16 + width, 10 + line_height * len(lines)], fill=(0, 0, 0, 170))
        for i, (text, colour) in enumerate(lines):
            draw.text((10, 7 + i * line_height), text, fill=colour, font=font)


#: Width (pixels) of the attribution panel beside a frame.
PANEL_WIDTH = 224
#: Bar colours of the attribution panel: a feature that raises the joint angle, one that lowers it.
_RAISES, _LOWERS = (40, 110, 200), _RED


def attribution_panel(phi: np.ndarray, height: int, width: int = PANEL_WIDTH) -> Image.Image:
    """A panel (height x width) of one bar chart per joint over the 7 pose features, with a colour key.

    Args:
        phi: (7, 4) attributions of the joints (columns) to the features (rows), radians.
    """
    phi = np.asarray(phi, dtype=float).reshape(7, 4)
    panel = Image.new("RGB", (width, height), (250, 250, 250))
    draw = ImageDraw.Draw(panel)
    font = _font(11)
    key_height = 18
    block = (height - key_height) // 4
    for joint in range(4):
        top = joint * block
        heading = f"joint{joint + 1}  (max {np.abs(phi[:, joint]).max():.2f} rad)"
        draw.text((6, top + 3), heading, fill=_BLACK, font=font)
        scale = np.abs(phi[:, joint]).max() or 1.0
        centre = width // 2 + 10
        for feature in range(7):
            y = top + 20 + feature * ((block - 26) / 7)
            length = (width // 2 - 22) * phi[feature, joint] / scale
            draw.text((4, y - 2), FEATURE_NAMES[feature], fill=_BLACK, font=font)
            colour = _RAISES if length >= 0 else _LOWERS
            bar_height = (block - 30) / 7 - 1
            draw.rectangle([min(centre, centre + length), y, max(centre, centre + length), y + bar_height], fill=colour)
        draw.line([centre, top + 18, centre, top + block - 4], fill=(120, 120, 120))
    key_top = height - key_height + 4
    x = 6
    for colour, text in ((_RAISES, "raises the joint"), (_LOWERS, "lowers it")):
        draw.rectangle([x, key_top, x + 10, key_top + 10], fill=colour)
        draw.text((x + 14, key_top - 1), text, fill=_BLACK, font=font)
        x += 18 + int(draw.textlength(text, font=font)) + 10
    return panel


def _with_panel(image: Image.Image, phi: np.ndarray) -> Image.Image:
    panel = attribution_panel(phi, image.height)
    joined = Image.new("RGB", (image.width + panel.width, image.height))
    joined.paste(image, (0, 0))
    joined.paste(panel, (image.width, 0))
    return joined


def comparison_grid(videos: Sequence[Sequence[np.ndarray]], titles: Sequence[str], *, columns: int | None = None,
                    scale: int = 1) -> list[np.ndarray]:
    """Tile synchronised frame lists into one titled grid per time step.

    Shorter lists hold their last frame. Tiles are downscaled by ``scale`` (1: full size, which
    keeps the 640-pixel frames of :class:`VideoSettings` readable); ``columns`` defaults to a
    near-square grid.
    """
    if not videos:
        return []
    columns = columns or math.ceil(math.sqrt(len(videos)))
    rows = math.ceil(len(videos) / columns)
    length = max(len(v) for v in videos)
    tile_h, tile_w = videos[0][0].shape[0] // scale, videos[0][0].shape[1] // scale
    title_h = 22
    font = _font(16)
    grid = []
    for t in range(length):
        canvas = Image.new("RGB", (columns * tile_w, rows * (tile_h + title_h)), _WHITE)
        draw = ImageDraw.Draw(canvas)
        for i, (frames, title) in enumerate(zip(videos, titles, strict=True)):
            frame = frames[min(t, len(frames) - 1)][::scale, ::scale][:tile_h, :tile_w]
            x, y = (i % columns) * tile_w, (i // columns) * (tile_h + title_h)
            canvas.paste(Image.fromarray(np.ascontiguousarray(frame)), (x, y + title_h))
            draw.text((x + 6, y + 2), title, fill=_BLACK, font=font)
        grid.append(np.asarray(canvas))
    return grid


def write_video(frames: Sequence[np.ndarray], path: Path, fps: float) -> Path:
    """Write ``frames`` (H, W, 3) uint8 as H.264/yuv420p MP4; GIF (with a warning) without ffmpeg.

    Returns:
        The path written (``.gif`` instead of ``.mp4`` on fallback).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    height, width = frames[0].shape[:2]
    height, width = height - height % 2, width - width % 2  # yuv420p needs even sizes
    even = [np.ascontiguousarray(f[:height, :width]) for f in frames]
    try:
        import imageio_ffmpeg
    except ImportError:
        import imageio.v2 as imageio

        gif = path.with_suffix(".gif")
        warnings.warn(f"imageio-ffmpeg is not installed; writing {gif.name} instead of MP4", stacklevel=2)
        imageio.mimsave(gif, even, duration=1.0 / fps)
        return gif
    # imageio-ffmpeg's own generator closes ffmpeg's pipes when closed (imageio's plugin leaves them to the GC).
    writer = imageio_ffmpeg.write_frames(str(path), (width, height), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                         quality=7, macro_block_size=1, ffmpeg_log_level="error",
                                         output_params=["-preset", "veryfast"])  # ~20% faster, no larger
    writer.send(None)
    try:
        for frame in even:
            writer.send(frame)
    finally:
        writer.close()
    return path


def _file_stem(policy: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in policy)


@dataclass(frozen=True)
class VideoSettings:
    """Frame rate and size of run videos (the camera, renderer and attribution panel come from the
    :class:`~evaluation.config.RunConfig`; see :func:`record_run_videos`).

    Attributes:
        fps: frames per second of simulated time (also the playback rate).
        width, height: frame size of one policy's video (pixels); the comparison grid tiles these at
            full size, so keep the width at 480 or more for readable tiles.
    """

    fps: float = 10.0
    width: int = 640
    height: int = 480


_VIDEO_WORKER: dict[str, Any] = {}


def _record_episode(config: RunConfig, policy: str, episode: int, settings: VideoSettings,
                    path: Path) -> tuple[Path, list[np.ndarray]]:
    """Replay one episode of ``config`` with a :class:`FrameRecorder`, write its video to
    ``path``; return the path written (a GIF without ffmpeg) and the frames.

    Runs in the calling process or in a video worker; the episode worker and the attribution
    panels are built once per process.
    """
    if "worker" not in _VIDEO_WORKER:
        _VIDEO_WORKER["worker"] = EpisodeWorker(renderer=config.renderer)
        _VIDEO_WORKER["panels"] = {}
        if config.shap:
            from evaluation.explain.study import attribution_panels

            _VIDEO_WORKER["panels"] = attribution_panels(config.policies, config.seed)
    recorder = FrameRecorder(policy, settings.width, settings.height, settings.fps, config.camera,
                             explain=_VIDEO_WORKER["panels"].get(policy))
    _VIDEO_WORKER["worker"].run(config.scenario, policy, config.seed, episode, config.max_steps, observer=recorder)
    return write_video(recorder.frames, path, settings.fps), recorder.frames


def _close_video_worker() -> None:
    worker = _VIDEO_WORKER.pop("worker", None)
    _VIDEO_WORKER.clear()
    if worker is not None:
        worker.close()


def _start_video_worker() -> None:
    import atexit

    import torch

    torch.set_num_threads(1)  # one process per core
    atexit.register(_close_video_worker)  # closes the worlds while the interpreter is whole


def record_run_videos(config: RunConfig, *, settings: VideoSettings = VideoSettings()) -> dict[str, Any]:
    """Replay the first ``config.video_episodes`` episodes of a run with recording; write
    per-episode and comparison videos.

    Episodes are deterministic (same seed, same commands), so the replay is the logged episode.
    With ``config.workers > 1`` the (policy, episode) videos are recorded in that many spawned
    processes, each rendering and encoding its own; the comparison grids are written here. The
    camera, renderer and (with ``config.shap``) the attribution panel come from ``config``.

    Args:
        config: the run.
        settings: frame rate and size.

    Returns:
        ``{"per_episode": [...], "comparison": [...], "fps", "size", "camera", "renderer"}`` with
        paths relative to the results folder.

    Raises:
        InvalidInputError: ``"egl"`` where EGL cannot start.
    """
    out_dir = config.out_dir
    videos_dir = out_dir / VIDEOS_DIR
    count = min(config.video_episodes, config.episodes)
    jobs = [(episode, policy, videos_dir / f"{_file_stem(policy)}_ep{episode}.mp4")
            for episode in range(count) for policy in config.policies]
    arguments = [(config, policy, episode, settings, path) for episode, policy, path in jobs]
    bar = tqdm(total=len(jobs), unit="video", desc="videos", disable=not config.progress)
    frames: dict[tuple[int, str], list[np.ndarray]] = {}
    per_episode = []
    executor = None
    try:
        if config.workers > 1 and len(jobs) > 1:
            executor = ProcessPoolExecutor(max_workers=min(config.workers, len(jobs)), mp_context=get_context("spawn"),
                                           initializer=_start_video_worker)
            results = executor.map(_record_episode, *zip(*arguments, strict=True))
        else:
            results = (_record_episode(*job) for job in arguments)
        for (episode, policy, _), (written, recorded) in zip(jobs, results, strict=True):
            frames[episode, policy] = recorded
            per_episode.append(str(written.relative_to(out_dir)))
            bar.update(1)
    finally:
        bar.close()
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        _close_video_worker()
    comparison = []
    for episode in range(count):
        grid = comparison_grid([frames[episode, policy] for policy in config.policies], list(config.policies))
        path = write_video(grid, videos_dir / f"comparison_ep{episode}.mp4", settings.fps)
        comparison.append(str(path.relative_to(out_dir)))
    return {"per_episode": per_episode, "comparison": comparison, "fps": settings.fps,
            "size": [settings.width, settings.height], "camera": config.camera, "renderer": config.renderer}
