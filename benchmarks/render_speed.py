"""Recording cost: frames per second rendered and encoded, and episode time with vs without video.

Prints, at 640x480 with TinyRenderer on the CPU, frames per second rendered + overlaid and
encoded to H.264 for one policy and for a 3-policy comparison grid, and the wall-time ratio of
an episode recorded at the default 10 frames per simulated second against the same episode
without recording, measured in the same run. Target: recording costs at most 2x.

Run: ``python benchmarks/render_speed.py [--scenario cluttered]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from evaluation.runner import EpisodeWorker
from evaluation.video import FrameRecorder, comparison_grid, write_video

POLICIES = ("iknet:improved", "analytic+safe", "pybullet-ik")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="cluttered")
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--fps", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--policies", default=",".join(POLICIES), help="three comma-separated policies; the first is timed alone")
    args = parser.parse_args()
    policies = tuple(args.policies.split(","))
    worker = EpisodeWorker()
    for policy in policies:
        worker.run(args.scenario, policy, args.seed, 0, 150)  # warm-up
    plain, recorded, frames_total, render_total = 0.0, 0.0, 0, 0.0
    with tempfile.TemporaryDirectory() as folder:
        for episode in range(args.episodes):
            start = time.perf_counter()
            worker.run(args.scenario, policies[0], args.seed, episode, 150)
            plain += time.perf_counter() - start
            recorder = FrameRecorder(policies[0], 640, 480, args.fps)
            start = time.perf_counter()
            worker.run(args.scenario, policies[0], args.seed, episode, 150, observer=recorder)
            write_video(recorder.frames, Path(folder) / f"episode{episode}.mp4", args.fps)
            elapsed = time.perf_counter() - start
            recorded += elapsed
            frames_total += len(recorder.frames)
            render_total += elapsed
        print(f"one policy ({policies[0]}), 640x480, {args.fps:g} fps of simulated time, {args.scenario}:")
        print(f"  episode without recording: {plain / args.episodes:.3f} s")
        print(f"  episode with recording:    {recorded / args.episodes:.3f} s ({frames_total / args.episodes:.0f} frames)")
        print(f"  recording cost ratio:      {recorded / plain:.2f}x (target <= 2x)")
        print(f"  frames rendered + encoded: {frames_total / render_total:.1f} frames/s (episode time included)")
        start = time.perf_counter()
        recorded_frames = []
        for policy in policies:
            recorder = FrameRecorder(policy, 640, 480, args.fps)
            worker.run(args.scenario, policy, args.seed, 0, 150, observer=recorder)
            recorded_frames.append(recorder.frames)
        grid = comparison_grid(recorded_frames, list(policies))
        write_video(grid, Path(folder) / "grid.mp4", args.fps)
        elapsed = time.perf_counter() - start
        count = sum(len(f) for f in recorded_frames)
        print(f"3-policy grid: {count} frames rendered, {len(grid)} grid frames encoded in {elapsed:.2f} s "
              f"({count / elapsed:.1f} rendered frames/s)")
    worker.close()


if __name__ == "__main__":
    main()
