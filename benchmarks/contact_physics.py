"""What the bound's physics hides: CAD contacts with ``contact_physics="bound"`` (Bullet's rigid
contacts on the sphere bound, which stands up to 24 mm outside ROBOTIS' CAD) against ``"none"``
(the default: nothing pushes, the meshes decide every touch), the same policies on the same seeded
scenes.

Where the bound is rigid it stops the arm a few millimetres before the CAD would touch, so the
truth channel finds fewer contacts than the commanded motion makes; with ``"none"`` the first
contact is where the real arm, following the same commands, would first touch.

Run: ``python benchmarks/contact_physics.py [--episodes 20]``
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from evaluation.runner import EpisodeWorker

POLICIES = ("iknet:original", "iknet:improved+safe", "analytic+safe", "analytic+straight")
SCENARIOS = ("benchmark", "cluttered")


class PhysicsWorker(EpisodeWorker):
    """An episode worker whose envs use ``contact_physics``."""

    def __init__(self, contact_physics: str) -> None:
        super().__init__()
        self.contact_physics = contact_physics

    def env(self, scenario: str, max_steps: int, spec: Any = None) -> Any:
        key = (scenario, max_steps)
        if key not in self._envs:
            import gymnasium as gym

            import sim

            self._envs[key] = gym.make(sim.ENV_IDS[0], scenario=scenario, max_episode_steps=max_steps,
                                       terminate_on_success=False, contact_physics=self.contact_physics)
        return self._envs[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20, help="episodes of cluttered (default 20; benchmark: 10)")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    args = parser.parse_args()
    if args.episodes < 1:
        parser.error("--episodes must be >= 1")
    started = time.perf_counter()
    print(f"seed {args.seed}; CAD contact = a touch of ROBOTIS' meshes at any physics substep\n")
    print("| scenario | policy | episodes | CAD contact, physics 'bound' | CAD contact, physics 'none' | "
          "bound touched, 'none' | success 'bound' / 'none' |")
    print("|---|---|---|---|---|---|---|")
    workers = {mode: PhysicsWorker(mode) for mode in ("bound", "none")}
    for scenario in SCENARIOS:
        episodes = 10 if scenario == "benchmark" else args.episodes
        for policy in POLICIES:
            rows = {mode: [worker.run(scenario, policy, args.seed, episode, 100).row for episode in range(episodes)]
                    for mode, worker in workers.items()}
            contact = {mode: int(np.sum([row["collided"] for row in found])) for mode, found in rows.items()}
            success = {mode: int(np.sum([row["success"] for row in found])) for mode, found in rows.items()}
            bound = int(np.sum([row["bound_contact_steps"] > 0 for row in rows["none"]]))
            print(f"| {scenario} | {policy} | {episodes} | {contact['bound']} | {contact['none']} | {bound} | "
                  f"{success['bound']} / {success['none']} |")
    for worker in workers.values():
        worker.close()
    print(f"\nwall time {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
