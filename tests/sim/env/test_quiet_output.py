"""PyBullet prints its build banner on import and ``argv[0]=`` on connect (C's stdout): an env's
whole life, from ``import sim`` to ``close()``, leaves the terminal clean."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import gymnasium as gym
import sim
env = gym.make(sim.ENV_IDS[0], scenario="cluttered", render_mode="rgb_array")
env.reset(seed=0)
env.step(env.action_space.sample())
env.render()
env.reset(seed=1)
env.close()
"""


def test_an_env_from_import_to_close_prints_nothing():
    result = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout == "" and result.stderr == "", (result.stdout[-500:], result.stderr[-500:])
