"""Videos: MP4 round trip, frame content, comparison grid, no rendering unless asked, GIF fallback."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace

import imageio.v2 as imageio
import numpy as np
import pytest

from evaluation.config import RunConfig
from evaluation.runner import EpisodeWorker
from evaluation.video import (
    FrameRecorder,
    VideoSettings,
    attribution_panel,
    comparison_grid,
    record_run_videos,
    write_video,
)
from sim.env.world import World
from sim.errors import InvalidInputError, UnknownNameError


def read_video(path) -> list[np.ndarray]:
    """All frames of a video, decoded by the ffmpeg binary itself (independent of the writer;
    imageio's readers leave ffmpeg's pipes to the garbage collector, which warnings flag)."""
    if str(path).endswith(".gif"):
        return list(imageio.mimread(path))
    import imageio_ffmpeg

    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    result = subprocess.run(command, capture_output=True, check=True)
    width, height = map(int, re.search(r"Video: h264.*?, (\d+)x(\d+)", result.stderr.decode()).groups())
    frames = np.frombuffer(result.stdout, np.uint8)
    assert frames.size % (width * height * 3) == 0
    return list(frames.reshape(-1, height, width, 3))


@pytest.fixture(scope="module")
def recorded():
    """Frames of two policies on the same cluttered scene (320x240, 10 fps)."""
    worker = EpisodeWorker(renderer="tiny")
    try:
        frames = {}
        for policy in ("analytic", "analytic+straight"):
            recorder = FrameRecorder(policy, width=320, height=240, fps=10.0)
            result = worker.run("cluttered", policy, 0, 1, 150, observer=recorder)
            frames[policy] = (recorder.frames, result.row)
        yield frames
    finally:
        worker.close()


def test_mp4_reads_back_with_expected_frames_and_size(recorded, tmp_path):
    frames, row = recorded["analytic"]
    expected = 1 + int(np.ceil(row["steps"] * 0.05 * 10.0 - 1e-9))  # reset frame + one per 0.1 s
    assert abs(len(frames) - expected) <= 1
    path = write_video(frames, tmp_path / "episode.mp4", fps=10.0)
    assert path.suffix == ".mp4"
    back = read_video(path)
    assert len(back) == len(frames)
    assert back[0].shape == (240, 320, 3)
    assert np.mean(np.abs(back[-1].astype(float) - frames[-1].astype(float))) < 8, "H.264 keeps the picture"


def test_frames_show_the_scene_and_change_over_time(recorded):
    frames, _ = recorded["analytic"]
    assert all(frame.std() > 10 for frame in frames), "no blank frame"
    moving = np.mean(np.any(frames[0] != frames[-1], axis=-1))
    assert moving > 0.01, "the arm moved, so the picture changed"


def test_comparison_grid_holds_every_policy(recorded, tmp_path):
    videos = [recorded[p][0] for p in ("analytic", "analytic+straight")] * 2
    titles = ["a", "b", "c", "d"]
    grid = comparison_grid(videos, titles, columns=2, scale=2)
    assert len(grid) == max(len(v) for v in videos)
    tile_h, tile_w = 240 // 2, 320 // 2
    assert grid[0].shape == (2 * (tile_h + 22), 2 * tile_w, 3)
    for row in range(2):
        for column in range(2):
            tile = grid[-1][row * (tile_h + 22) + 22:(row + 1) * (tile_h + 22), column * tile_w:(column + 1) * tile_w]
            assert tile.std() > 10, "every tile shows a scene"
    path = write_video(grid, tmp_path / "grid.mp4", fps=10.0)
    assert read_video(path)[0].shape == grid[0].shape


def test_comparison_frames_are_readable_tiles_with_the_overlay_from_frame_0():
    """Default-size tiles (>= 480 px wide) and, on the very first frame, the overlay drawn over the
    label region of the un-overlaid camera image."""
    from sim.env.camera import CAMERA_PRESETS

    settings = VideoSettings()
    raw = {}

    class Recorder(FrameRecorder):
        def __call__(self, step, env, record):
            if step == -1:
                raw[self.policy] = env.world.render(self.width, self.height, CAMERA_PRESETS[self.camera])
            super().__call__(step, env, record)

    worker = EpisodeWorker(renderer="tiny")
    try:
        recorders = [Recorder(policy, settings.width, settings.height, settings.fps)
                     for policy in ("analytic", "analytic+safe", "analytic+straight")]
        for recorder in recorders:
            worker.run("cluttered", recorder.policy, 0, 0, 8, observer=recorder)
    finally:
        worker.close()
    grid = comparison_grid([r.frames for r in recorders], [r.policy for r in recorders])
    assert settings.width >= 480
    columns = 2  # a near-square grid of three
    assert grid[0].shape == (2 * (settings.height + 22), columns * settings.width, 3)
    for recorder in recorders:
        first = recorder.frames[0]
        assert first.shape == (settings.height, settings.width, 3)
        label = (slice(4, 100), slice(4, 240))  # the top-left box: policy, step, goal error, clearance
        changed = np.any(first[label] != raw[recorder.policy][label], axis=-1).mean()
        assert changed > 0.3, f"{recorder.policy}: no overlay on frame 0"
    tile = grid[0][22:22 + settings.height, settings.width:2 * settings.width]
    assert np.array_equal(tile, recorders[1].frames[0]), "the grid shows each frame at full size"


def test_no_frame_is_rendered_without_a_recorder(monkeypatch):
    calls = []
    original = World.render
    monkeypatch.setattr(World, "render", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    worker = EpisodeWorker()
    try:
        worker.run("cluttered", "analytic", 0, 0, 150)
    finally:
        worker.close()
    assert calls == []


def test_attribution_panel_draws_bars():
    phi = np.zeros((7, 4))
    phi[0, 0], phi[3, 2] = 0.5, -0.2
    panel = np.asarray(attribution_panel(phi, height=240))
    assert panel.shape == (240, 224, 3)
    assert (panel[..., 2] > 150).sum() > 50 and (panel[..., 0] > 150).sum() > 50


def test_gif_fallback_warns_without_ffmpeg(monkeypatch, tmp_path, recorded):
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    frames, _ = recorded["analytic"]
    with pytest.warns(UserWarning, match="imageio-ffmpeg"):
        path = write_video(frames[:5], tmp_path / "episode.mp4", fps=10.0)
    assert path.suffix == ".gif" and path.exists()
    assert len(read_video(path)) == 5


def _red_pixels(frame: np.ndarray) -> int:
    """Pixels of the red obstacles."""
    red, green, blue = (frame[..., c].astype(int) for c in range(3))
    return int(np.sum((red > 140) & (green < 90) & (blue < 90)))


def test_egl_renderer_draws_the_scene_tinyrenderer_draws():
    try:
        egl = World(renderer="egl")
    except InvalidInputError as error:
        pytest.skip(f"EGL cannot start here: {error}")
    tiny = World()
    try:
        for world in (egl, tiny):
            world.add_obstacle("box", "box", (0.04, 0.04, 0.06), (0.2, 0.0, 0.06))
            world.reset_joints([0.3, 0.2, 0.3, -0.4])
        frames = [world.render(320, 240, "front") for world in (egl, tiny)]
    finally:
        egl.close()
        tiny.close()
    assert frames[0].shape == frames[1].shape == (240, 320, 3)
    assert frames[0].std() > 10, "not blank (the plugin must load before the bodies)"
    counts = [_red_pixels(frame) for frame in frames]
    assert counts[1] > 500 and abs(counts[0] - counts[1]) < 0.25 * counts[1], counts


def test_unknown_renderer_and_camera_are_named():
    with pytest.raises(UnknownNameError, match="valid choices: egl, none, tiny"):
        World(renderer="vulkan")
    config = RunConfig(scenario="cluttered", policies=("analytic",), episodes=1, seed=0, out_dir=".", workers=1,
                       max_steps=10, progress=False)
    with pytest.raises(UnknownNameError, match="front"):
        record_run_videos(replace(config, camera="ceiling"))


def test_videos_recorded_in_two_workers_equal_the_serial_ones(tmp_path):
    settings = VideoSettings(width=160, height=120)
    summaries, frames = {}, {}
    for workers in (1, 2):
        config = RunConfig(scenario="cluttered", policies=("analytic", "analytic+straight"), episodes=1, seed=3,
                           out_dir=tmp_path / str(workers), workers=workers, max_steps=40, camera="top", progress=False)
        summaries[workers] = record_run_videos(config, settings=settings)
        frames[workers] = [read_video(config.out_dir / path) for path in summaries[workers]["per_episode"]]
    assert summaries[1]["per_episode"] == summaries[2]["per_episode"]
    assert len(summaries[2]["comparison"]) == 1 and summaries[2]["camera"] == "top"
    for serial, parallel in zip(frames[1], frames[2], strict=True):
        assert len(serial) == len(parallel) > 1
        assert np.array_equal(serial[-1], parallel[-1]), "the same deterministic episode, rendered alike"
