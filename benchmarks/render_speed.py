"""Recording cost: frames per second rendered and encoded, and episode time with vs without video.

For each renderer that starts here (TinyRenderer on the CPU always; PyBullet's OpenGL renderer
through its EGL plugin where libEGL is installed: a GPU's driver, or Mesa's llvmpipe on the CPU),
prints at 640x480:

- the camera's own cost per frame (``World.render`` alone), with and without shadows;
- one policy: an episode recorded at the default 10 frames per simulated second (rendered,
  overlaid and H.264-encoded) against the same episode without recording, measured in the same
  run, their ratio (target <= 2x), and the per-frame budget the target leaves;
- a 3-policy comparison grid: rendered frames per second, grid encoding included.

Run: ``python benchmarks/render_speed.py [--scenario cluttered] [--renderers tiny,egl]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from evaluation.runner import EpisodeWorker
from evaluation.video import FrameRecorder, comparison_grid, write_video
from sim.env.camera import RENDERERS
from sim.env.world import World
from sim.errors import InvalidInputError

POLICIES = ("iknet:improved", "analytic+safe", "pybullet-ik")
WIDTH, HEIGHT = 640, 480


def camera_cost_ms(renderer: str, frames: int = 20) -> dict[str, float]:
    """Milliseconds per ``World.render`` at 640x480 with and without shadows (cluttered-like scene)."""
    world = World(renderer=renderer)
    try:
        for i, x in enumerate((0.15, 0.25, 0.3)):
            world.add_obstacle(f"box{i}", "box", (0.03, 0.03, 0.05), (x, 0.1 * (i - 1), 0.05))
        world.reset_joints([0.3, 0.2, 0.3, -0.4])
        cost = {}
        for shadow in (True, False):
            world.render(WIDTH, HEIGHT, shadow=shadow)
            start = time.perf_counter()
            for _ in range(frames):
                world.render(WIDTH, HEIGHT, shadow=shadow)
            cost["shadow" if shadow else "no shadow"] = 1e3 * (time.perf_counter() - start) / frames
        return cost
    finally:
        world.close()


def measure(renderer: str, args: argparse.Namespace, policies: tuple[str, ...], folder: Path) -> None:
    cost = camera_cost_ms(renderer)
    print(f"\nrenderer {renderer}: camera alone {cost['shadow']:.1f} ms/frame with shadows, "
          f"{cost['no shadow']:.1f} without")
    worker = EpisodeWorker(renderer=renderer)
    try:
        for policy in policies:
            worker.run(args.scenario, policy, args.seed, 0, 150)  # warm-up
        plain, recorded, frames_total = 0.0, 0.0, 0
        for episode in range(args.episodes):
            start = time.perf_counter()
            worker.run(args.scenario, policies[0], args.seed, episode, 150)
            plain += time.perf_counter() - start
            recorder = FrameRecorder(policies[0], WIDTH, HEIGHT, args.fps)
            start = time.perf_counter()
            worker.run(args.scenario, policies[0], args.seed, episode, 150, observer=recorder)
            write_video(recorder.frames, folder / f"{renderer}_episode{episode}.mp4", args.fps)
            recorded += time.perf_counter() - start
            frames_total += len(recorder.frames)
        frames = frames_total / args.episodes
        print(f"  one policy ({policies[0]}), {args.fps:g} fps of simulated time, {args.scenario}, "
              f"mean of {args.episodes} episodes:")
        print(f"    episode without recording: {plain / args.episodes:.3f} s")
        print(f"    episode with recording:    {recorded / args.episodes:.3f} s ({frames:.0f} frames, "
              f"{frames_total / recorded:.1f} frames/s with the episode)")
        print(f"    recording cost ratio:      {recorded / plain:.2f}x (target <= 2x: "
              f"{'met' if recorded / plain <= 2.0 else 'MISSED'})")
        print(f"    per-frame budget of the target: {1e3 * plain / frames_total:.1f} ms "
              f"(render + overlay + encode), spent: {1e3 * (recorded - plain) / frames_total:.1f} ms")
        start = time.perf_counter()
        recorded_frames = []
        for policy in policies:
            recorder = FrameRecorder(policy, WIDTH, HEIGHT, args.fps)
            worker.run(args.scenario, policy, args.seed, 0, 150, observer=recorder)
            recorded_frames.append(recorder.frames)
        grid = comparison_grid(recorded_frames, list(policies))
        write_video(grid, folder / f"{renderer}_grid.mp4", args.fps)
        elapsed = time.perf_counter() - start
        count = sum(len(f) for f in recorded_frames)
        print(f"  3-policy grid: {count} frames rendered, {len(grid)} grid frames encoded in {elapsed:.2f} s "
              f"({count / elapsed:.1f} rendered frames/s)")
    finally:
        worker.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="cluttered")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--renderers", default=",".join(RENDERERS), help="comma-separated, from: tiny, egl")
    parser.add_argument("--policies", default=",".join(POLICIES),
                        help="three comma-separated policies; the first is timed alone")
    args = parser.parse_args()
    policies = tuple(args.policies.split(","))
    renderers = tuple(args.renderers.split(","))
    unknown = sorted(set(renderers) - set(RENDERERS))
    if unknown:
        parser.error(f"unknown renderer {unknown[0]!r}; valid choices: {', '.join(RENDERERS)}")
    print(f"{WIDTH}x{HEIGHT}, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        for renderer in renderers:
            try:
                measure(renderer, args, policies, Path(folder))
            except InvalidInputError as error:
                print(f"\nrenderer {renderer}: not available here ({error})")


if __name__ == "__main__":
    main()
